//! Self-signed RSA certificates for app-only sign-in (Exchange Online, Graph).

use std::fmt;

use rcgen::{
    CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RsaKeySize, SerialNumber,
};
use time::{Duration, OffsetDateTime, UtcOffset};
use zeroize::Zeroizing;

use super::subject::distinguished_name;
use super::{CertError, PrivateKey, PublicCertificate};
use crate::model::{GenerateSpec, KeyType, Period};

/// How far before `now` a new certificate becomes valid, so a tenant or a Windows machine whose
/// clock runs a little behind still accepts it at once.
pub const NOT_BEFORE_SKEW: Duration = Duration::minutes(5);

/// What to generate. `now` is passed in so that tests and plans are deterministic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateRequest {
    /// Distinguished name as manifests write it, e.g. `CN=Exo_V2_App`.
    pub subject: String,
    pub key_type: KeyType,
    pub validity: Period,
    pub now: OffsetDateTime,
}

impl GenerateRequest {
    pub fn from_spec(spec: &GenerateSpec, now: OffsetDateTime) -> Self {
        Self {
            subject: spec.subject.clone(),
            key_type: spec.key_type,
            validity: spec.validity,
            now,
        }
    }
}

/// A freshly generated certificate and its private key. The key lives only here (wiped on drop)
/// and in the PFX written from it.
#[derive(Clone)]
pub struct GeneratedCertificate {
    certificate: PublicCertificate,
    private_key: PrivateKey,
}

impl GeneratedCertificate {
    /// DER, thumbprint, subject, serial, validity: everything public.
    pub fn certificate(&self) -> &PublicCertificate {
        &self.certificate
    }

    pub fn private_key(&self) -> &PrivateKey {
        &self.private_key
    }

    /// A copy usable for sign-in and key proofs, e.g. right after apply uploads it.
    pub fn to_client_certificate(&self) -> super::ClientCertificate {
        self.clone().into()
    }

    pub(crate) fn into_parts(self) -> (PublicCertificate, PrivateKey) {
        (self.certificate, self.private_key)
    }
}

impl fmt::Debug for GeneratedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCertificate")
            .field("certificate", &self.certificate)
            .field("private_key", &self.private_key)
            .finish()
    }
}

/// Generates an RSA key and a self-signed certificate for it: subject from the request, a random
/// serial, valid from `now - 5 min` to `now + validity`, key usage digitalSignature +
/// keyEncipherment, extended key usage clientAuth, CA:false.
pub fn generate(request: &GenerateRequest) -> Result<GeneratedCertificate, CertError> {
    let dn = distinguished_name(&request.subject)?;
    let now = request.now.to_offset(UtcOffset::UTC);
    // X.509 times have whole seconds; truncating here keeps not_after exactly now + validity.
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let not_before = now - NOT_BEFORE_SKEW;
    let not_after = now
        .checked_add(request.validity.as_duration())
        .filter(|t| t.year() <= 9999)
        .ok_or(CertError::ValidityOutOfRange {
            validity: request.validity,
        })?;

    let bits = request.key_type.bits();
    let size = match request.key_type {
        KeyType::Rsa2048 => RsaKeySize::_2048,
        KeyType::Rsa3072 => RsaKeySize::_3072,
        KeyType::Rsa4096 => RsaKeySize::_4096,
    };
    let key_pair = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size)
        .map_err(|source| CertError::KeyGeneration { bits, source })?;

    // Every field is set on purpose: rcgen's defaults (CN "rcgen self signed cert", valid
    // 1975-4096, a serial derived from the key) must never reach a tenant.
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial());
    params.subject_alt_names = Vec::new();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.name_constraints = None;
    params.crl_distribution_points = Vec::new();
    params.custom_extensions = Vec::new();
    params.use_authority_key_identifier_extension = false;
    params.key_identifier_method = KeyIdMethod::Sha256;

    let cert = params
        .self_signed(&key_pair)
        .map_err(|source| CertError::BuildCertificate {
            subject: request.subject.clone(),
            source,
        })?;
    let certificate = PublicCertificate::parse(cert.der().to_vec(), "the generated certificate")?;
    let private_key = PrivateKey::from_pkcs8_der(Zeroizing::new(key_pair.serialize_der()));
    Ok(GeneratedCertificate {
        certificate,
        private_key,
    })
}

/// 126 random bits, positive and without a leading zero byte, so it always encodes in 16 bytes
/// (RFC 5280 allows up to 20 and asks for at least 64 bits of randomness from CAs).
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}
