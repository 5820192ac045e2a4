//! Fault injection for the test suite: crash points, no backoff sleeps, a drill's tampering.
//! Compiled in only with the `test-hooks` feature (`tests/run.sh` turns it on): a release
//! binary ignores these variables.

/// `MLRB_TEST_CRASH_AT=started:N` or `finished:N` kills the process at that step boundary, as
/// a power cut or `kill -9` would.
pub fn crash_point(kind: &str, step: usize) {
    if enabled("MLRB_TEST_CRASH_AT").is_some_and(|v| v == format!("{kind}:{step}")) {
        std::process::abort();
    }
}

/// `MLRB_TEST_NO_SLEEP`: retries and polls do not wait.
pub fn no_sleep() -> bool {
    enabled("MLRB_TEST_NO_SLEEP").is_some()
}

/// `MLRB_TEST_DRILL_TAMPER`: someone changes the registry between a drill's restore and its check.
pub fn drill_tamper() -> bool {
    enabled("MLRB_TEST_DRILL_TAMPER").is_some()
}

#[cfg(feature = "test-hooks")]
fn enabled(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

#[cfg(not(feature = "test-hooks"))]
fn enabled(_: &str) -> Option<String> {
    None
}
