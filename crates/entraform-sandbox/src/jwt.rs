//! JWTs the way the identity platform handles them: the sandbox's own RS256 access tokens, and
//! verification of client assertions, `addKey` proofs and federated tokens against RSA keys
//! taken from X.509 certificates or JWKS.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};
use sha1::Digest;

use super::SandboxError;
use super::state::SigningKey;

/// What the sandbox needs to know about a certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertInfo {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    pub not_before_ms: i64,
    pub not_after_ms: i64,
    /// base64url SHA-1 of the DER (`x5t`).
    pub x5t: String,
    /// base64url SHA-256 of the DER (`x5t#S256`).
    pub x5t_s256: String,
    pub subject: String,
}

/// Parses a DER certificate; `None` for anything that is not an X.509 certificate with an RSA
/// key (the identity platform accepts only RSA for credentials).
pub(crate) fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let x509_parser::public_key::PublicKey::RSA(rsa) = cert.public_key().parsed().ok()? else {
        return None;
    };
    let strip = |b: &[u8]| {
        let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
        b[i..].to_vec()
    };
    let sha1 = sha1::Sha1::digest(der);
    let sha256 = sha2::Sha256::digest(der);
    Some(CertInfo {
        modulus: strip(rsa.modulus),
        exponent: strip(rsa.exponent),
        not_before_ms: cert.validity().not_before.timestamp() * 1000,
        not_after_ms: cert.validity().not_after.timestamp() * 1000,
        x5t: URL_SAFE_NO_PAD.encode(sha1),
        x5t_s256: URL_SAFE_NO_PAD.encode(sha256),
        subject: cert.subject().to_string(),
    })
}

/// A JWT split into its parts, not yet verified.
#[derive(Debug, Clone)]
pub(crate) struct Parts {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: String,
}

impl Parts {
    pub(crate) fn parse(token: &str) -> Option<Parts> {
        let mut it = token.split('.');
        let (h, c, s) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        let decode = |p: &str| -> Option<Value> {
            let bytes = URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok()?;
            serde_json::from_slice(&bytes).ok()
        };
        let header = decode(h)?;
        let claims = decode(c)?;
        if !header.is_object() || !claims.is_object() {
            return None;
        }
        Some(Parts {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature: s.to_string(),
        })
    }

    pub(crate) fn alg(&self) -> Option<Algorithm> {
        match self.header.get("alg")?.as_str()? {
            "RS256" => Some(Algorithm::RS256),
            "PS256" => Some(Algorithm::PS256),
            "RS384" => Some(Algorithm::RS384),
            "RS512" => Some(Algorithm::RS512),
            _ => None,
        }
    }

    pub(crate) fn header_str(&self, k: &str) -> Option<&str> {
        self.header.get(k)?.as_str()
    }

    pub(crate) fn claim_str(&self, k: &str) -> Option<&str> {
        self.claims.get(k)?.as_str()
    }

    pub(crate) fn claim_i64(&self, k: &str) -> Option<i64> {
        let v = self.claims.get(k)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }

    /// `aud` as a list (it may be a string or an array).
    pub(crate) fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Verifies the signature with an RSA public key (modulus and exponent, big-endian).
    pub(crate) fn verify_rsa(&self, modulus: &[u8], exponent: &[u8]) -> bool {
        let Some(alg) = self.alg() else {
            return false;
        };
        let key = DecodingKey::from_rsa_raw_components(modulus, exponent);
        jsonwebtoken::crypto::verify(&self.signature, self.signing_input.as_bytes(), &key, alg)
            .unwrap_or(false)
    }
}

/// The sandbox's token-signing key.
pub(crate) struct Signer {
    pub kid: String,
    key: EncodingKey,
    pub cert: CertInfo,
    pub cert_b64: String,
}

impl Signer {
    pub(crate) fn from_stored(stored: &SigningKey) -> Result<Signer, SandboxError> {
        let crypto =
            |e: Box<dyn std::error::Error + Send + Sync>| SandboxError::Crypto { source: e };
        let key = EncodingKey::from_rsa_pem(stored.private_key_pem.as_bytes())
            .map_err(|e| crypto(Box::new(e)))?;
        let der = STANDARD
            .decode(&stored.certificate)
            .map_err(|e| crypto(Box::new(e)))?;
        let cert =
            cert_info(&der).ok_or_else(|| crypto("the signing certificate is not RSA".into()))?;
        Ok(Signer {
            kid: stored.kid.clone(),
            key,
            cert,
            cert_b64: stored.certificate.clone(),
        })
    }

    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.cert.x5t.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("RS256 signing with a valid key")
    }

    /// The JWKS entry for this key.
    pub(crate) fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.cert.x5t,
            "n": URL_SAFE_NO_PAD.encode(&self.cert.modulus),
            "e": URL_SAFE_NO_PAD.encode(&self.cert.exponent),
            "x5c": [self.cert_b64],
            "issuer": issuer,
        })
    }

    /// Verifies one of the sandbox's own tokens; returns its claims.
    pub(crate) fn verify_own(&self, token: &str) -> Option<Value> {
        let parts = Parts::parse(token)?;
        if parts.alg() != Some(Algorithm::RS256) {
            return None;
        }
        if !parts.verify_rsa(&self.cert.modulus, &self.cert.exponent) {
            return None;
        }
        Some(parts.claims)
    }
}

/// Creates a new RSA signing key with a self-signed certificate.
pub(crate) fn new_signing_key() -> Result<SigningKey, SandboxError> {
    let crypto = |e: rcgen::Error| SandboxError::Crypto {
        source: Box::new(e),
    };
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(crypto)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "entraform sandbox token signing");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let cert = params.self_signed(&kp).map_err(crypto)?;
    let der = cert.der().to_vec();
    let x5t = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der));
    Ok(SigningKey {
        kid: x5t,
        private_key_pem: kp.serialize_pem(),
        certificate: STANDARD.encode(der),
    })
}
