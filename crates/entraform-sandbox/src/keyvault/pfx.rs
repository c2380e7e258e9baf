//! The PFX of an import and the secret that backs the certificate.
//!
//! "Key Vault doesn't save the associated password. When you export the certificate, the
//! password is blank." (MicrosoftDocs/azure-security-docs
//! `articles/key-vault/certificates/how-to-export-certificate.md`); "If the policy indicates
//! that the key is non-exportable, then the private key isn't a part of the value when it's
//! retrieved as a secret." (`articles/key-vault/certificates/about-certificates.md`). Whether
//! Key Vault keeps an imported PFX byte for byte is not documented: the sandbox re-encodes it
//! under the blank password, as an export of a certificate Key Vault generated would be.

use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};

/// The certificate and the secret value of one imported PFX.
pub(crate) struct Imported {
    /// DER of the leaf certificate.
    pub leaf: Vec<u8>,
    /// Base64 PFX with a blank password.
    pub secret_value: String,
}

/// Reads an imported PFX (`pwd` empty when none was given) and builds the secret Key Vault
/// returns for it. `Err` carries the message for a 400.
pub(crate) fn import(pfx: &[u8], pwd: &str, exportable: bool) -> Result<Imported, String> {
    use base64::Engine as _;
    let store = KeyStore::from_pkcs12(pfx, pwd, Pkcs12ImportPolicy::Strict).map_err(|e| {
        format!("The specified PKCS#12 X.509 certificate content can not be read. Please check if certificate is in valid PKCS#12 format. ({e})")
    })?;
    let Some((alias, chain)) = store.private_key_chain() else {
        return Err(
            "Private key is not specified in the specified X.509 PEM certificate content. Please specify private key in the X.509 PEM certificate content."
                .to_owned(),
        );
    };
    let Some(leaf) = chain.certs().first() else {
        return Err("The specified X.509 certificate content is invalid.".to_owned());
    };
    let mut out = KeyStore::new();
    if exportable {
        out.add_entry(alias, KeyStoreEntry::PrivateKeyChain(chain.clone()));
    } else {
        for (i, cert) in chain.certs().iter().enumerate() {
            out.add_entry(
                &format!("{alias}#{i}"),
                KeyStoreEntry::Certificate(cert.clone()),
            );
        }
    }
    let bytes = out
        .writer("")
        .write()
        .map_err(|e| format!("The certificate could not be stored ({e})."))?;
    Ok(Imported {
        leaf: leaf.as_der().to_vec(),
        secret_value: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}
