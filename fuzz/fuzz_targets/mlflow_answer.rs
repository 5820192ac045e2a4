//! Any answer an MLflow server (or a proxy in front of it) may give: interpreted without panic,
//! and every error is one line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlrb::registry::mlflow::{Auth, interpret};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = 100 + (u16::from(data[0]) << 8 | u16::from(data[1])) % 500;
    let ct = ["application/json", "text/html", "text/plain", ""][usize::from(data[2] % 4)];
    let body = String::from_utf8_lossy(&data[3..]);
    if let Err(e) = interpret("http://mlflow:5000", &Auth::None, status, ct, &body, "model `m`") {
        assert!(!e.to_string().contains('\n'));
    }
});
