//! A TLS-terminating proxy in front of the real MLflow server, with a CA generated per run:
//! what a company's ingress does, so mlrb's TLS settings meet a real handshake.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct TlsProxy {
    pub url: String,
    pub ca_pem: PathBuf,
    /// Client certificate and key in one PEM file, as MLFLOW_TRACKING_CLIENT_CERT_PATH takes it.
    pub client_pem: PathBuf,
    _dir: tempfile::TempDir,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    (p.self_signed(&key).unwrap(), key)
}

/// Starts the proxy to `upstream` ("127.0.0.1:PORT"); with `client_auth` it demands a client
/// certificate signed by its own client CA.
pub fn start(upstream: &str, client_auth: bool) -> TlsProxy {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, server_ca_key) = ca("mlrb test server CA");
    let mut sp = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    sp.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_key = KeyPair::generate().unwrap();
    let server_cert = sp
        .signed_by(&server_key, &server_ca, &server_ca_key)
        .unwrap();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, server_ca.pem()).unwrap();

    let (client_ca, client_ca_key) = ca("mlrb test client CA");
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["oncall".to_string()])
        .unwrap()
        .signed_by(&client_key, &client_ca, &client_ca_key)
        .unwrap();
    let client_pem = dir.path().join("client.pem");
    std::fs::write(
        &client_pem,
        format!("{}{}", client_cert.pem(), client_key.serialize_pem()),
    )
    .unwrap();

    let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let builder = rustls::ServerConfig::builder();
    let config = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(client_ca.der().to_vec()))
            .unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap()
    } else {
        builder
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap()
    };
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let upstream = upstream.to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let config = config.clone();
            let upstream = upstream.clone();
            std::thread::spawn(move || pump(conn, &upstream, config));
        }
    });
    TlsProxy {
        url,
        ca_pem,
        client_pem,
        _dir: dir,
    }
}

/// Shuttles bytes between the TLS client and the plain upstream until either side closes.
fn pump(conn: TcpStream, upstream: &str, config: Arc<rustls::ServerConfig>) {
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    let short = Some(Duration::from_millis(5));
    let _ = conn.set_read_timeout(short);
    let _ = up.set_read_timeout(short);
    let Ok(server) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(server, conn);
    let mut buf = vec![0u8; 64 * 1024];
    let idle = |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    loop {
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if up.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
        match up.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
    }
}
