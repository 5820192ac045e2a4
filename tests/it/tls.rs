//! TLS exactly as the official MLflow client reads it from the environment: verification on by
//! default, a custom CA, a client certificate, and INSECURE_TLS with a warning on every use.

use crate::common::mlflow::{MlflowBackend, Rest, seed_rest};
use crate::common::{TestEnv, bad_release, tls, unique};

#[test]
fn tls_verification_custom_ca_insecure_and_client_certificates() {
    let b = MlflowBackend::new();
    let m = unique("tls");
    seed_rest(&Rest::new(&b.uri), &m, &bad_release(), &[]);
    let upstream = b.uri.trim_start_matches("http://").to_string();
    let proxy = tls::start(&upstream, false);

    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", proxy.url.clone());
    // Verification is on: a private CA is refused.
    let line = env.run(&["status", &m]).one_clear_error(1);
    assert!(line.to_lowercase().contains("certificate"), "{line}");
    // The CA from MLFLOW_TRACKING_SERVER_CERT_PATH is trusted.
    env.set(
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        proxy.ca_pem.display().to_string(),
    );
    env.run(&["status", &m]).code(0);
    // INSECURE_TLS skips verification, and says so every time.
    env.vars.remove("MLFLOW_TRACKING_SERVER_CERT_PATH");
    env.set("MLFLOW_TRACKING_INSECURE_TLS", "true");
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert!(out.stderr.contains("NOT verified"), "{}", out.stderr);

    // A proxy that demands a client certificate.
    let mtls = tls::start(&upstream, true);
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", mtls.url.clone());
    env.set(
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        mtls.ca_pem.display().to_string(),
    );
    env.run(&["status", &m]).one_clear_error(1);
    env.set(
        "MLFLOW_TRACKING_CLIENT_CERT_PATH",
        mtls.client_pem.display().to_string(),
    );
    env.run(&["status", &m]).code(0);
    // A client certificate file that is not PEM is a configuration error, not a crash.
    let bogus = env.write("bogus.pem", "not a certificate");
    env.set(
        "MLFLOW_TRACKING_CLIENT_CERT_PATH",
        bogus.display().to_string(),
    );
    assert!(
        env.run(&["status", &m])
            .one_clear_error(2)
            .contains("client certificate")
    );
}
