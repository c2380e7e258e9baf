//! Reading certificates users bring: a public certificate to attach (`file:`), and a sign-in
//! certificate with its private key (a PEM file or a PFX).

use std::fmt;
use std::path::Path;

use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use der::Decode as _;
use zeroize::Zeroizing;

use super::x509::algorithm_name;
use super::{CertError, GeneratedCertificate, PfxPassword, PrivateKey, PublicCertificate};
use crate::local_file;
use crate::model::Thumbprint;

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// A certificate with its RSA private key, for signing client assertions and key proofs.
#[derive(Clone)]
pub struct ClientCertificate {
    certificate: PublicCertificate,
    private_key: PrivateKey,
}

impl ClientCertificate {
    pub fn certificate(&self) -> &PublicCertificate {
        &self.certificate
    }

    pub fn private_key(&self) -> &PrivateKey {
        &self.private_key
    }
}

impl From<GeneratedCertificate> for ClientCertificate {
    fn from(generated: GeneratedCertificate) -> Self {
        let (certificate, private_key) = generated.into_parts();
        Self {
            certificate,
            private_key,
        }
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("certificate", &self.certificate)
            .field("private_key", &self.private_key)
            .finish()
    }
}

/// Reads the certificate a `file:` source names: PEM or DER, exactly one certificate, public
/// only (a file holding a private key is refused, so keys stay out of manifest repositories),
/// and RSA.
pub fn read_public_certificate(path: &Path) -> Result<PublicCertificate, CertError> {
    let bytes = read(path, local_file::CERTIFICATE)?;
    let origin = format!("`{}`", path.display());
    if !is_pem(&bytes) {
        if holds_private_key_der(&bytes) {
            return Err(CertError::PrivateKeyInCertificateFile {
                path: path.to_owned(),
            });
        }
        return PublicCertificate::parse(bytes, &origin);
    }
    let blocks = pem::parse_many(&bytes).map_err(|e| CertError::InvalidCertificate {
        origin: origin.clone(),
        reason: format!("its PEM cannot be read ({e})"),
    })?;
    if blocks.iter().any(|b| b.tag().contains("PRIVATE KEY")) {
        return Err(CertError::PrivateKeyInCertificateFile {
            path: path.to_owned(),
        });
    }
    let mut certs: Vec<pem::Pem> = blocks
        .into_iter()
        .filter(|b| is_certificate_tag(b.tag()))
        .collect();
    match certs.len() {
        0 => Err(CertError::NoCertificate {
            path: path.to_owned(),
        }),
        1 => PublicCertificate::parse(certs.remove(0).into_contents(), &origin),
        count => Err(CertError::SeveralCertificates {
            path: path.to_owned(),
            count,
        }),
    }
}

/// Loads a sign-in certificate: a PEM file with the certificate (and perhaps its chain) and one
/// private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), or a PFX (AES/PBES2, 3DES,
/// or RC2) opened with `password` (PFX only; none means the empty password). The key must be RSA and
/// must belong to one of the certificates, which becomes the one returned.
pub fn load_client_certificate(
    path: &Path,
    password: Option<&PfxPassword>,
) -> Result<ClientCertificate, CertError> {
    let bytes = Zeroizing::new(read(path, local_file::PFX)?);
    if is_pem(&bytes) {
        load_pem(path, &bytes)
    } else if pkcs12::pfx::Pfx::from_der(&bytes).is_ok() {
        load_pfx(path, &bytes, password)
    } else {
        Err(CertError::UnknownFormat {
            path: path.to_owned(),
        })
    }
}

fn load_pem(path: &Path, bytes: &[u8]) -> Result<ClientCertificate, CertError> {
    let blocks = pem::parse_many(bytes).map_err(|_| CertError::UnknownFormat {
        path: path.to_owned(),
    })?;
    let mut keys = Vec::new();
    let mut certs = Vec::new();
    for block in blocks {
        let encrypted_legacy_pem = block
            .headers()
            .get("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"));
        match block.tag() {
            _ if encrypted_legacy_pem => {
                return Err(CertError::EncryptedPrivateKey {
                    path: path.to_owned(),
                });
            }
            "PRIVATE KEY" => keys.push(Zeroizing::new(block.into_contents())),
            "RSA PRIVATE KEY" => {
                let pkcs1 = Zeroizing::new(block.into_contents());
                keys.push(pkcs1_to_pkcs8(path, &pkcs1)?);
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(CertError::EncryptedPrivateKey {
                    path: path.to_owned(),
                });
            }
            tag if tag.contains("PRIVATE KEY") => {
                return Err(CertError::NotRsa {
                    origin: format!("the private key in `{}`", path.display()),
                    algorithm: tag.trim_end_matches("PRIVATE KEY").trim().to_owned(),
                });
            }
            tag if is_certificate_tag(tag) => certs.push(block.into_contents()),
            _ => {}
        }
    }
    let key = single_key(path, keys, !certs.is_empty())?;
    check_rsa_pkcs8(path, &key)?;
    pair_key_with_certificate(path, key, certs)
}

/// A PFX held in memory (Key Vault's secret of a certificate: a blank password); `origin` names
/// where it came from in errors.
pub fn client_certificate_from_pfx(
    origin: &Path,
    bytes: &[u8],
) -> Result<ClientCertificate, CertError> {
    load_pfx(origin, bytes, None)
}

fn load_pfx(
    path: &Path,
    bytes: &[u8],
    password: Option<&PfxPassword>,
) -> Result<ClientCertificate, CertError> {
    let secret = password.map(PfxPassword::expose_secret).unwrap_or("");
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, secret).map_err(|e| match e {
        // A MAC mismatch is a wrong password; so is bad padding in a MAC-less file.
        p12_keystore::error::Error::MacError(_) | p12_keystore::error::Error::UnpadError => {
            CertError::WrongPassword {
                path: path.to_owned(),
                password_given: password.is_some(),
                var: password.and_then(PfxPassword::variable).map(str::to_owned),
            }
        }
        source => CertError::UnreadablePfx {
            path: path.to_owned(),
            source,
        },
    })?;
    let keys: Vec<Zeroizing<Vec<u8>>> = archive
        .keys
        .iter()
        .map(|bag| Zeroizing::new(bag.key.as_der().to_vec()))
        .collect();
    let certs: Vec<Vec<u8>> = archive
        .certs
        .iter()
        .map(|bag| bag.cert.as_der().to_vec())
        .collect();
    let key = single_key(path, keys, !certs.is_empty())?;
    check_rsa_pkcs8(path, &key)?;
    pair_key_with_certificate(path, key, certs)
}

fn single_key(
    path: &Path,
    mut keys: Vec<Zeroizing<Vec<u8>>>,
    has_certificates: bool,
) -> Result<Zeroizing<Vec<u8>>, CertError> {
    match keys.len() {
        0 if has_certificates => Err(CertError::NoPrivateKey {
            path: path.to_owned(),
        }),
        0 => Err(CertError::NoCertificate {
            path: path.to_owned(),
        }),
        1 => Ok(keys.remove(0)),
        count => Err(CertError::SeveralPrivateKeys {
            path: path.to_owned(),
            count,
        }),
    }
}

fn check_rsa_pkcs8(path: &Path, pkcs8: &[u8]) -> Result<(), CertError> {
    let info = pkcs12::safe_bag::PrivateKeyInfo::from_der(pkcs8).map_err(|_| {
        CertError::InvalidPrivateKey {
            path: path.to_owned(),
            reason: "not PKCS#8".to_owned(),
        }
    })?;
    let oid = info.algorithm.oid.to_string();
    drop(Zeroizing::new(info.private_key.into_bytes()));
    if oid != RSA_ENCRYPTION {
        return Err(CertError::NotRsa {
            origin: format!("the private key in `{}`", path.display()),
            algorithm: algorithm_name(&oid),
        });
    }
    Ok(())
}

fn pkcs1_to_pkcs8(path: &Path, pkcs1: &[u8]) -> Result<Zeroizing<Vec<u8>>, CertError> {
    let invalid = |reason: &str| CertError::InvalidPrivateKey {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let pair = RsaKeyPair::from_der(pkcs1).map_err(|e| invalid(e.description_()))?;
    let pkcs8: Pkcs8V1Der<'static> = pair
        .as_der()
        .map_err(|_| invalid("cannot re-encode it as PKCS#8"))?;
    Ok(Zeroizing::new(pkcs8.as_ref().to_vec()))
}

/// Chooses the certificate whose public key is the key's, so a PEM with a chain or a PFX with
/// CA certificates works, and a mismatched pair is caught before any sign-in.
fn pair_key_with_certificate(
    path: &Path,
    pkcs8: Zeroizing<Vec<u8>>,
    certs: Vec<Vec<u8>>,
) -> Result<ClientCertificate, CertError> {
    let private_key = PrivateKey::from_pkcs8_der(pkcs8);
    let pair = private_key
        .key_pair()
        .map_err(|e| CertError::InvalidPrivateKey {
            path: path.to_owned(),
            reason: e.description_().to_owned(),
        })?;
    let public_key = pair.public_key().as_ref();
    let origin = format!("`{}`", path.display());
    let mut first_error = None;
    for der in certs {
        match PublicCertificate::parse(der, &origin) {
            Ok(certificate) if certificate.rsa_public_key() == public_key => {
                return Ok(ClientCertificate {
                    certificate,
                    private_key,
                });
            }
            // Chain certificates may use other algorithms; only an unreadable one is worth
            // reporting when nothing matches.
            Err(e @ CertError::InvalidCertificate { .. }) => {
                first_error.get_or_insert(e);
            }
            Ok(_) | Err(_) => {}
        }
    }
    Err(first_error.unwrap_or(CertError::KeyDoesNotMatch {
        path: path.to_owned(),
    }))
}

/// The certificate thumbprint of a PFX or CER file entraform wrote, read without a password:
/// a CER is the certificate itself; in a PFX the thumbprint is the key bag's `localKeyId`, which
/// sits outside the encryption (OpenSSL and entraform both write it so). `None` for anything
/// else, or anything that cannot be read.
pub fn written_file_thumbprint(path: &Path) -> Option<Thumbprint> {
    let bytes = local_file::read(path, local_file::PFX).ok()?;
    written_thumbprint(&bytes)
}

/// [`written_file_thumbprint`] of bytes already read.
pub fn written_thumbprint(bytes: &[u8]) -> Option<Thumbprint> {
    if let Ok(pfx) = pkcs12::pfx::Pfx::from_der(bytes) {
        return pfx_local_key_id(&pfx);
    }
    PublicCertificate::from_der(bytes)
        .ok()
        .map(|c| c.thumbprint())
}

/// Whether `path` is a regular file holding a PKCS#12 (PFX) archive.
pub fn is_pfx_file(path: &Path) -> bool {
    local_file::read(path, local_file::PFX)
        .is_ok_and(|bytes| pkcs12::pfx::Pfx::from_der(&bytes).is_ok())
}

/// Whether `path` is a regular file holding an X.509 certificate (DER, or PEM blocks with one).
pub fn is_certificate_file(path: &Path) -> bool {
    let Ok(bytes) = local_file::read(path, local_file::CERTIFICATE) else {
        return false;
    };
    if is_pem(&bytes) {
        return pem::parse_many(&bytes)
            .is_ok_and(|blocks| blocks.iter().any(|b| is_certificate_tag(b.tag())));
    }
    PublicCertificate::from_der(&bytes).is_ok()
}

/// The `localKeyId` of the first shrouded key bag in a plain (unencrypted) SafeContents.
fn pfx_local_key_id(pfx: &pkcs12::pfx::Pfx) -> Option<Thumbprint> {
    const OID_DATA: &str = "1.2.840.113549.1.7.1";
    const OID_SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
    const OID_LOCAL_KEY_ID: &str = "1.2.840.113549.1.9.21";
    let octets = |any: &der::Any| {
        any.decode_as::<der::asn1::OctetString>()
            .ok()
            .map(der::asn1::OctetString::into_bytes)
    };
    let auth_safe = octets(&pfx.auth_safe.content)?;
    let contents = Vec::<pkcs12::cms::content_info::ContentInfo>::from_der(&auth_safe).ok()?;
    for info in contents
        .iter()
        .filter(|c| c.content_type.to_string() == OID_DATA)
    {
        let Some(bags) =
            octets(&info.content).and_then(|bytes| Vec::<pkcs12::SafeBag>::from_der(&bytes).ok())
        else {
            continue;
        };
        if let Some(bag) = bags
            .iter()
            .find(|b| b.bag_id.to_string() == OID_SHROUDED_KEY_BAG)
        {
            let id = bag
                .bag_attributes
                .iter()
                .flat_map(|attrs| attrs.iter())
                .filter(|a| a.oid.to_string() == OID_LOCAL_KEY_ID)
                .find_map(|a| a.values.iter().next().and_then(octets))?;
            return <[u8; 20]>::try_from(&id[..]).ok().map(Thumbprint);
        }
    }
    None
}

fn read(path: &Path, limit: local_file::Limit) -> Result<Vec<u8>, CertError> {
    local_file::read(path, limit).map_err(|source| CertError::Read {
        path: path.to_owned(),
        source,
    })
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn is_certificate_tag(tag: &str) -> bool {
    matches!(tag, "CERTIFICATE" | "X509 CERTIFICATE")
}

/// DER private keys and PFX files (which always hold one in practice) look nothing like a
/// certificate, so a successful parse as any of them is decisive.
fn holds_private_key_der(bytes: &[u8]) -> bool {
    pkcs12::pfx::Pfx::from_der(bytes).is_ok()
        || pkcs12::safe_bag::PrivateKeyInfo::from_der(bytes).is_ok()
        || pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(bytes).is_ok()
        || RsaKeyPair::from_der(bytes).is_ok()
}
