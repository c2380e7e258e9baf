//! HTTPS for `--tls`: a CA generated at every start signs a server certificate for the loopback
//! names (and `*.vault.localhost`, the sandbox's Key Vaults), and the CA certificate is written next to the state file so standard clients (MSAL,
//! azure-identity, Graph SDKs, curl) can trust it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls;

use super::SandboxError;

/// `sandbox.json` → `sandbox.ca.pem` beside it.
pub(crate) fn ca_path_for(state: &Path) -> PathBuf {
    state.with_extension("ca.pem")
}

/// Whether `path` is a CA certificate this sandbox wrote: a regular file holding one PEM
/// certificate and nothing else.
pub(crate) fn is_ca_file(path: &Path) -> bool {
    let limit = entraform_local_file::CERTIFICATE;
    let Ok(text) = entraform_local_file::read_to_string(path, limit) else {
        return false;
    };
    pem::parse_many(text.as_bytes())
        .is_ok_and(|blocks| blocks.len() == 1 && blocks[0].tag() == "CERTIFICATE")
}

pub(crate) struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub ca_pem: String,
}

fn crypto(e: impl std::error::Error + Send + Sync + 'static) -> SandboxError {
    SandboxError::Crypto {
        source: Box::new(e),
    }
}

/// A fresh CA and a server certificate for `localhost`, the loopback addresses and `host`.
pub(crate) fn generate(host: &str) -> Result<Tls, SandboxError> {
    let now = time::OffsetDateTime::now_utc();
    let ca_key = rcgen::KeyPair::generate().map_err(crypto)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "entraform sandbox CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - time::Duration::days(1);
    ca_params.not_after = now + time::Duration::days(365);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(crypto)?;
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);

    // `*.vault.localhost`: vaults addressed by host name, as Key Vault SDKs check them.
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".into(),
        "::1".into(),
        "*.vault.localhost".into(),
    ];
    if !names.iter().any(|n| n == host) && !host.is_empty() {
        names.push(host.to_string());
    }
    let leaf_key = rcgen::KeyPair::generate().map_err(crypto)?;
    let mut leaf = rcgen::CertificateParams::new(names).map_err(crypto)?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "entraform sandbox");
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(90);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(crypto)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let chain = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(crypto)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(crypto)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca_cert.pem(),
    })
}
