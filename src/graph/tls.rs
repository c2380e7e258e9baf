//! TLS trust: CA certificates to trust besides the system's (`--ca-cert`), and, when a server's
//! certificate is refused, the name of the CA it chains to, so the error can say what to trust.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::error::GraphError;

/// A CA bundle is a few certificates; anything much larger is not one.
const MAX_CA_FILE: u64 = 1024 * 1024;

/// The CA certificates in a PEM file (one or more `CERTIFICATE` blocks), to trust besides the
/// system's.
pub fn load_ca_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, GraphError> {
    let read = |source: std::io::Error| GraphError::ReadFile {
        what: "the CA certificate file (--ca-cert)",
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() || meta.len() > MAX_CA_FILE {
        return Err(GraphError::config(
            format!(
                "`{}` is not a CA certificate file (a regular file of at most 1 MiB)",
                path.display()
            ),
            Some("pass a PEM file holding the CA's `BEGIN CERTIFICATE` block".into()),
        ));
    }
    let bytes = std::fs::read(path).map_err(read)?;
    let certificates = reqwest::Certificate::from_pem_bundle(&bytes).unwrap_or_default();
    if certificates.is_empty() {
        return Err(GraphError::config(
            format!("`{}` holds no PEM certificate", path.display()),
            Some("pass a PEM file holding the CA's `BEGIN CERTIFICATE` block".into()),
        ));
    }
    Ok(certificates)
}

/// Whether the request failed because the server's certificate was refused (rather than a
/// network fault worth retrying).
pub(crate) fn is_untrusted_certificate(e: &reqwest::Error) -> bool {
    let refused = |err: &(dyn std::error::Error + 'static)| {
        matches!(
            err.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        ) || err.to_string().starts_with("invalid peer certificate")
    };
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if refused(err) {
            return true;
        }
        // io::Error hides its inner error from `source()`; look inside.
        current = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => {
                let inner: &(dyn std::error::Error + 'static) = inner;
                if refused(inner) {
                    return true;
                }
                inner.source()
            }
            None => err.source(),
        };
    }
    false
}

/// The distinguished name of the CA that the certificate chain `url`'s server presents is
/// issued by (the issuer of the last certificate it sends), read in a handshake that accepts
/// any certificate and sends nothing. `None` when the server cannot be reached again.
pub(crate) async fn presented_issuer(url: &reqwest::Url) -> Option<String> {
    let host = url
        .host_str()?
        .trim_matches(|c| c == '[' || c == ']')
        .to_owned();
    let port = url.port_or_known_default()?;
    let recorder = Arc::new(Recorder::default());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(host.clone()).ok()?;
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .ok()?;
        // The chain is recorded during the handshake; the connection is dropped unused.
        let _ = connector.connect(name, tcp).await;
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .ok()??;
    let chain = recorder
        .chain
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let last = chain.last()?;
    let (_, cert) = x509_parser::parse_x509_certificate(last).ok()?;
    Some(cert.issuer().to_string())
}

/// Accepts every certificate, keeping the chain: only ever used to name an issuer.
#[derive(Debug, Default)]
struct Recorder {
    chain: Mutex<Vec<Vec<u8>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = self.chain.lock().unwrap_or_else(|p| p.into_inner());
        chain.push(end_entity.to_vec());
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
