//! Writing PFX (PKCS#12) files that Windows imports into a CSP, not only files OpenSSL reads.
//!
//! The layout is OpenSSL's `pkcs12 -export -CSP …` layout: an encrypted SafeContents with the
//! certificate bag, then a plain SafeContents with the shrouded key bag, and a password MAC over
//! both. The key bag names the Microsoft CSP (OID 1.3.6.1.4.1.311.17.1): without it Windows puts
//! an RSA key in a legacy provider that cannot sign SHA-256, or in CNG, which Exchange app-only
//! auth rejects. The key bag's friendlyName becomes the Windows key container name, so it is a
//! fresh GUID; the certificate bag's friendlyName is the readable label shown in certificate
//! stores. Both bags carry the thumbprint as localKeyId, as OpenSSL writes it.
//!
//! Built on RustCrypto's PKCS#12/PKCS#5/CMS types rather than p12-keystore's writer, which fixes
//! the bag attributes (no CSP name, the certificate's subject as its friendlyName).

use cbc::cipher::{BlockModeEncrypt as _, KeyIvInit as _, block_padding::Pkcs7};
use der::asn1::{BmpString, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode as _, Encode as _};
use hmac::{KeyInit as _, Mac as _};
use pkcs12::cms::cert::x509::attr::{Attribute, Attributes};
use pkcs12::cms::cert::x509::spki::AlgorithmIdentifierOwned;
use pkcs12::cms::content_info::{CmsVersion, ContentInfo};
use pkcs12::cms::encrypted_data::EncryptedData;
use pkcs12::cms::enveloped_data::EncryptedContentInfo;
use pkcs12::kdf::{Pkcs12KeyType, derive_key_utf8};
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo, Pkcs12PbeParams};
use pkcs12::pfx::{Pfx, Version};
use pkcs12::{CertBag, DigestInfo, MacData, SafeBag};
use zeroize::Zeroizing;

use super::{CertError, GeneratedCertificate, PfxPassword, PrivateKey, PublicCertificate};
use crate::model::PfxEncryption;

/// What `openssl pkcs12 -export -CSP` writes, and the provider that signs SHA-256 in CryptoAPI.
pub const MICROSOFT_CSP_NAME: &str = "Microsoft Enhanced RSA and AES Cryptographic Provider";

const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const OID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const OID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const OID_PBE_SHA1_3DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
const OID_SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const OID_CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
const OID_X509_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
const OID_FRIENDLY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
const OID_LOCAL_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");
const OID_MS_CSP_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.17.1");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// PBKDF2 rounds for AES files: the JDK's and p12-keystore's default, well within what Windows
/// and .NET accept on import.
const PBKDF2_ITERATIONS: u32 = 10_000;
/// Rounds for legacy files: OpenSSL's default, the combination old Windows imports are known
/// to handle.
const LEGACY_ITERATIONS: i32 = 2048;
const MAC_ITERATIONS_AES: i32 = 10_000;

/// Builds the PFX for a generated certificate: certificate and key encrypted with `password`
/// (AES-256 or legacy 3DES, see [`PfxEncryption`]), the certificate labelled `friendly_name`.
pub fn write_pfx(
    cert: &GeneratedCertificate,
    password: &PfxPassword,
    encryption: PfxEncryption,
    friendly_name: &str,
) -> Result<Vec<u8>, CertError> {
    build_pfx(
        cert.certificate(),
        cert.private_key(),
        password,
        encryption,
        friendly_name,
    )
}

pub(crate) fn build_pfx(
    cert: &PublicCertificate,
    key: &PrivateKey,
    password: &PfxPassword,
    encryption: PfxEncryption,
    friendly_name: &str,
) -> Result<Vec<u8>, CertError> {
    let password = password.expose_secret();
    let local_key_id = cert.thumbprint().0;
    let key_container = uuid::Uuid::new_v4().hyphenated().to_string();

    let cert_bag = SafeBag {
        bag_id: OID_CERT_BAG,
        bag_value: CertBag {
            cert_id: OID_X509_CERTIFICATE,
            cert_value: octets(cert.der())?,
        }
        .to_der()
        .map_err(|e| CertError::build_pfx("encode the certificate bag", e))?,
        bag_attributes: Some(attributes(&[
            (OID_FRIENDLY_NAME, bmp_any(&bmp_only(friendly_name))?),
            (OID_LOCAL_KEY_ID, octets_any(&local_key_id)?),
        ])?),
    };

    let (key_alg, encrypted_key) = encrypt(encryption, key.expose_pkcs8_der(), password)?;
    let key_bag = SafeBag {
        bag_id: OID_SHROUDED_KEY_BAG,
        bag_value: EncryptedPrivateKeyInfo {
            encryption_algorithm: key_alg,
            encrypted_data: octets(&encrypted_key)?,
        }
        .to_der()
        .map_err(|e| CertError::build_pfx("encode the key bag", e))?,
        bag_attributes: Some(attributes(&[
            (OID_FRIENDLY_NAME, bmp_any(&key_container)?),
            (OID_LOCAL_KEY_ID, octets_any(&local_key_id)?),
            (OID_MS_CSP_NAME, bmp_any(MICROSOFT_CSP_NAME)?),
        ])?),
    };

    let cert_contents = vec![cert_bag]
        .to_der()
        .map_err(|e| CertError::build_pfx("encode the certificate contents", e))?;
    let (cert_alg, encrypted_certs) = encrypt(encryption, &cert_contents, password)?;
    let cert_safe = ContentInfo {
        content_type: OID_ENCRYPTED_DATA,
        content: any(&EncryptedData {
            version: CmsVersion::V0,
            enc_content_info: EncryptedContentInfo {
                content_type: OID_DATA,
                content_enc_alg: cert_alg,
                encrypted_content: Some(octets(&encrypted_certs)?),
            },
            unprotected_attrs: None,
        })?,
    };

    let key_contents = vec![key_bag]
        .to_der()
        .map_err(|e| CertError::build_pfx("encode the key contents", e))?;
    let key_safe = ContentInfo {
        content_type: OID_DATA,
        content: any(&octets(&key_contents)?)?,
    };

    let auth_safe = vec![cert_safe, key_safe]
        .to_der()
        .map_err(|e| CertError::build_pfx("encode the authenticated safe", e))?;
    let mac_data = mac(encryption, &auth_safe, password)?;
    Pfx {
        version: Version::V3,
        auth_safe: ContentInfo {
            content_type: OID_DATA,
            content: any(&octets(&auth_safe)?)?,
        },
        mac_data: Some(mac_data),
    }
    .to_der()
    .map_err(|e| CertError::build_pfx("encode the PFX", e))
}

/// The thumbprint of the certificate in a PFX, read without its password where the file shows
/// it in the clear: a certificate bag in a plain SafeContents (hashed), else the `localKeyId`
/// of a bag there, which OpenSSL, and entraform's own files, set to the certificate's SHA-1
/// (its thumbprint; only a 20-byte one is taken as such). `None` when the file does not show
/// it (everything encrypted, or another `localKeyId` convention, as Windows exports use).
pub fn pfx_thumbprint(bytes: &[u8]) -> Option<crate::model::Thumbprint> {
    use sha1::Digest as _;
    let pfx = Pfx::from_der(bytes).ok()?;
    if pfx.auth_safe.content_type != OID_DATA {
        return None;
    }
    let auth_safe = pfx.auth_safe.content.decode_as::<OctetString>().ok()?;
    let safes = Vec::<ContentInfo>::from_der(auth_safe.as_bytes()).ok()?;
    let mut local_key_id = None;
    for safe in safes.iter().filter(|s| s.content_type == OID_DATA) {
        let Ok(contents) = safe.content.decode_as::<OctetString>() else {
            continue;
        };
        let Ok(bags) = Vec::<SafeBag>::from_der(contents.as_bytes()) else {
            continue;
        };
        for bag in bags {
            if bag.bag_id == OID_CERT_BAG
                && let Ok(cert) = CertBag::from_der(&bag.bag_value)
                && cert.cert_id == OID_X509_CERTIFICATE
            {
                let digest: [u8; 20] = sha1::Sha1::digest(cert.cert_value.as_bytes()).into();
                return Some(crate::model::Thumbprint(digest));
            }
            let ids = bag
                .bag_attributes
                .iter()
                .flat_map(|set| set.iter())
                .filter(|a| a.oid == OID_LOCAL_KEY_ID);
            for value in ids.flat_map(|a| a.values.iter()) {
                if let Ok(id) = value.decode_as::<OctetString>()
                    && let Ok(id) = <[u8; 20]>::try_from(id.as_bytes())
                {
                    local_key_id.get_or_insert(crate::model::Thumbprint(id));
                }
            }
        }
    }
    local_key_id
}

/// Encrypts one bag or SafeContents with fresh salt (and IV) per call, as OpenSSL does.
fn encrypt(
    encryption: PfxEncryption,
    plaintext: &[u8],
    password: &str,
) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), CertError> {
    match encryption {
        PfxEncryption::Aes256 => {
            let salt: [u8; 16] = rand::random();
            let iv: [u8; 16] = rand::random();
            let params = pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
                PBKDF2_ITERATIONS,
                &salt,
                iv,
            )
            .map_err(|e| CertError::build_pfx("set up PBES2", e))?;
            // PBES2 inside PKCS#12 takes the password as UTF-8 bytes (OpenSSL and Windows agree).
            let ciphertext = params
                .encrypt(password.as_bytes(), plaintext)
                .map_err(|e| CertError::build_pfx("encrypt with AES-256-CBC", e))?;
            let algorithm = AlgorithmIdentifierOwned {
                oid: OID_PBES2,
                parameters: Some(any(&params)?),
            };
            Ok((algorithm, ciphertext))
        }
        PfxEncryption::Legacy3Des => {
            let salt: [u8; 8] = rand::random();
            let key = Zeroizing::new(pkcs12_kdf::<sha1::Sha1>(
                password,
                &salt,
                Pkcs12KeyType::EncryptionKey,
                LEGACY_ITERATIONS,
                24,
            )?);
            let iv =
                pkcs12_kdf::<sha1::Sha1>(password, &salt, Pkcs12KeyType::Iv, LEGACY_ITERATIONS, 8)?;
            let cipher = cbc::Encryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
                .map_err(|e| CertError::build_pfx("set up 3DES", e))?;
            let ciphertext = cipher.encrypt_padded_vec::<Pkcs7>(plaintext);
            let params = Pkcs12PbeParams {
                salt: octets(&salt)?,
                iterations: LEGACY_ITERATIONS,
            };
            let algorithm = AlgorithmIdentifierOwned {
                oid: OID_PBE_SHA1_3DES,
                parameters: Some(any(&params)?),
            };
            Ok((algorithm, ciphertext))
        }
    }
}

/// The password MAC over the authenticated safe: HMAC-SHA256 for AES files, HMAC-SHA1 for
/// legacy ones (older Windows knows no other), keyed with the PKCS#12 KDF.
fn mac(encryption: PfxEncryption, data: &[u8], password: &str) -> Result<MacData, CertError> {
    let salt: [u8; 8] = rand::random();
    let (oid, iterations, digest) = match encryption {
        PfxEncryption::Aes256 => {
            let key = Zeroizing::new(pkcs12_kdf::<sha2::Sha256>(
                password,
                &salt,
                Pkcs12KeyType::Mac,
                MAC_ITERATIONS_AES,
                32,
            )?);
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
                .map_err(|e| CertError::build_pfx("set up the MAC", e))?;
            mac.update(data);
            (
                OID_SHA256,
                MAC_ITERATIONS_AES,
                mac.finalize().into_bytes().to_vec(),
            )
        }
        PfxEncryption::Legacy3Des => {
            let key = Zeroizing::new(pkcs12_kdf::<sha1::Sha1>(
                password,
                &salt,
                Pkcs12KeyType::Mac,
                LEGACY_ITERATIONS,
                20,
            )?);
            let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&key)
                .map_err(|e| CertError::build_pfx("set up the MAC", e))?;
            mac.update(data);
            (
                OID_SHA1,
                LEGACY_ITERATIONS,
                mac.finalize().into_bytes().to_vec(),
            )
        }
    };
    Ok(MacData {
        mac: DigestInfo {
            // OpenSSL writes explicit NULL parameters here; so do we, to look exactly like it.
            algorithm: AlgorithmIdentifierOwned {
                oid,
                parameters: Some(Any::null()),
            },
            digest: octets(&digest)?,
        },
        mac_salt: octets(&salt)?,
        iterations,
    })
}

fn pkcs12_kdf<D>(
    password: &str,
    salt: &[u8],
    purpose: Pkcs12KeyType,
    iterations: i32,
    len: usize,
) -> Result<Vec<u8>, CertError>
where
    D: sha2::Digest + sha2::digest::FixedOutputReset + sha2::digest::block_api::BlockSizeUser,
{
    derive_key_utf8::<D>(password, salt, purpose, iterations, len)
        .map_err(|_| CertError::PasswordNotBmp { var: None })
}

/// Friendly names are BMPStrings; a character beyond U+FFFF becomes U+FFFD rather than failing
/// a write over a cosmetic label.
fn bmp_only(s: &str) -> String {
    s.chars()
        .map(|c| if u32::from(c) > 0xFFFF { '\u{FFFD}' } else { c })
        .collect()
}

fn attributes(items: &[(ObjectIdentifier, Any)]) -> Result<Attributes, CertError> {
    let mut attrs = Attributes::new();
    for (oid, value) in items {
        let values = SetOfVec::try_from(vec![value.clone()])
            .map_err(|e| CertError::build_pfx("encode a bag attribute", e))?;
        attrs
            .insert(Attribute { oid: *oid, values })
            .map_err(|e| CertError::build_pfx("encode a bag attribute", e))?;
    }
    Ok(attrs)
}

fn octets(bytes: &[u8]) -> Result<OctetString, CertError> {
    OctetString::new(bytes).map_err(|e| CertError::build_pfx("encode an octet string", e))
}

fn octets_any(bytes: &[u8]) -> Result<Any, CertError> {
    any(&octets(bytes)?)
}

fn bmp_any(s: &str) -> Result<Any, CertError> {
    let bmp = BmpString::from_utf8(s).map_err(|e| CertError::build_pfx("encode a BMPString", e))?;
    any(&bmp)
}

fn any(value: &impl der::Encode) -> Result<Any, CertError> {
    let der = value
        .to_der()
        .map_err(|e| CertError::build_pfx("encode a value", e))?;
    Any::from_der(&der).map_err(|e| CertError::build_pfx("encode a value", e))
}
