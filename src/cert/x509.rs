//! A parsed public certificate: the facts entraform prints, compares and uploads.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha1::Digest as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::CertError;
use super::subject::format_name;
use crate::model::Thumbprint;

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// An RSA X.509 certificate, parsed once. Every field is derived from `der`, so they cannot
/// disagree with the bytes that get uploaded.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicCertificate {
    der: Vec<u8>,
    thumbprint: Thumbprint,
    subject: String,
    serial: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    key_bits: u32,
    /// The subjectPublicKey contents (a PKCS#1 `RSAPublicKey`), to match private keys against.
    rsa_public_key: Vec<u8>,
}

impl PublicCertificate {
    /// Parses a DER certificate; `origin` names it in errors (a path, or "the generated certificate").
    pub(crate) fn parse(der: Vec<u8>, origin: &str) -> Result<Self, CertError> {
        let invalid = |reason: String| CertError::InvalidCertificate {
            origin: origin.to_owned(),
            reason,
        };
        let (rest, cert) =
            x509_parser::parse_x509_certificate(&der).map_err(|e| invalid(e.to_string()))?;
        if !rest.is_empty() {
            return Err(invalid(format!(
                "{} unexpected bytes after the certificate",
                rest.len()
            )));
        }
        let spki = cert.public_key();
        let algorithm = spki.algorithm.algorithm.to_id_string();
        if algorithm != RSA_ENCRYPTION {
            return Err(CertError::NotRsa {
                origin: origin.to_owned(),
                algorithm: algorithm_name(&algorithm),
            });
        }
        let key_bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => modulus_bits(rsa.modulus),
            _ => return Err(invalid("its RSA public key cannot be read".to_owned())),
        };
        let thumbprint = Thumbprint(sha1::Sha1::digest(&der).into());
        Ok(Self {
            thumbprint,
            subject: format_name(cert.subject()),
            serial: hex::encode_upper(cert.raw_serial()),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            key_bits,
            rsa_public_key: spki.subject_public_key.data.to_vec(),
            der,
        })
    }

    /// Parses a DER certificate from any source, e.g. a key credential's `key` read from Graph.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        Self::parse(der.to_vec(), "the certificate")
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-1 of the DER: what Windows, Exchange and the Entra portal call the thumbprint.
    pub fn thumbprint(&self) -> Thumbprint {
        self.thumbprint
    }

    /// The subject, most specific attribute first (`CN=app, O=Contoso`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The serial number as upper-case hex, as Windows shows it.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    pub fn key_bits(&self) -> u32 {
        self.key_bits
    }

    /// The base64 DER: a key credential's `key`.
    pub fn key_base64(&self) -> String {
        STANDARD.encode(&self.der)
    }

    /// The certificate's not-before in RFC 3339 UTC (`2025-01-31T09:55:00Z`): a key credential's
    /// `startDateTime`, so the credential's window equals the certificate's.
    pub fn start_date_time(&self) -> String {
        rfc3339_utc(self.not_before)
    }

    /// The certificate's not-after in RFC 3339 UTC: a key credential's `endDateTime`.
    pub fn end_date_time(&self) -> String {
        rfc3339_utc(self.not_after)
    }

    /// JWT header `x5t`: base64url SHA-1 of the DER.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.thumbprint.0)
    }

    /// JWT header `x5t#S256`: base64url SHA-256 of the DER.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&self.der))
    }

    pub(crate) fn rsa_public_key(&self) -> &[u8] {
        &self.rsa_public_key
    }
}

impl fmt::Debug for PublicCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicCertificate")
            .field("subject", &self.subject)
            .field("thumbprint", &self.thumbprint)
            .field("serial", &self.serial)
            .field("not_before", &self.start_date_time())
            .field("not_after", &self.end_date_time())
            .field("key_bits", &self.key_bits)
            .finish()
    }
}

/// RFC 3339 in UTC with a `Z` and no fraction: certificates carry whole seconds.
pub(crate) fn rfc3339_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn modulus_bits(modulus: &[u8]) -> u32 {
    let significant = match modulus.iter().position(|&b| b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    let len = u32::try_from(significant.len()).unwrap_or(u32::MAX / 8);
    len * 8 - significant[0].leading_zeros()
}

pub(crate) fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.2.1" => "ECDSA".to_owned(),
        "1.3.101.112" => "Ed25519".to_owned(),
        "1.3.101.113" => "Ed448".to_owned(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS-only".to_owned(),
        "1.2.840.10040.4.1" => "DSA".to_owned(),
        other => format!("`{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignore_the_sign_byte() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0, 0]), 24);
        assert_eq!(modulus_bits(&[0x7f, 0]), 15);
        assert_eq!(modulus_bits(&[]), 0);
    }

    #[test]
    fn dates_print_as_rfc3339_utc_with_a_z() {
        let t = time::macros::datetime!(2025-01-31 10:55:00.25 +01:00);
        assert_eq!(rfc3339_utc(t), "2025-01-31T09:55:00Z");
    }
}
