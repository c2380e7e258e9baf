//! JWTs signed with a certificate's key: client assertions for the token endpoint and the proof
//! Graph's `addKey`/`removeKey` demand.
//!
//! Signed here with aws-lc-rs straight from the PKCS#8 key we already hold, rather than through
//! jsonwebtoken's `EncodingKey`, which wants a PKCS#1 copy of the key it never wipes. The compact
//! form is three base64url parts; tests verify our tokens with jsonwebtoken independently.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::{CertError, ClientCertificate, SignedJwt};
use crate::model::{AppId, ObjectId};

/// How long an assertion or proof is valid: the 10 minutes Entra and Graph allow at most.
pub const JWT_LIFETIME: Duration = Duration::minutes(10);

/// The audience of a key proof: the Azure AD Graph application id, as Graph's docs require.
pub const KEY_PROOF_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

/// The signature algorithm of a client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssertionAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256; the header names the certificate by `x5t` (SHA-1).
    Rs256,
    /// RSASSA-PSS with SHA-256; the header names the certificate by `x5t#S256`.
    Ps256,
}

impl AssertionAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
        }
    }

    fn encoding(self) -> &'static dyn RsaEncoding {
        match self {
            Self::Rs256 => &RSA_PKCS1_SHA256,
            Self::Ps256 => &RSA_PSS_SHA256,
        }
    }
}

/// A client assertion for `client_credentials` at `token_endpoint` (which is also its `aud`):
/// `iss` = `sub` = the client id, a random `jti`, valid from `now` for ten minutes.
pub fn client_assertion(
    cert: &ClientCertificate,
    client_id: &AppId,
    token_endpoint: &str,
    alg: AssertionAlg,
    now: OffsetDateTime,
) -> Result<SignedJwt, CertError> {
    let certificate = cert.certificate();
    let header = match alg {
        AssertionAlg::Rs256 => json!({"alg": alg.as_str(), "typ": "JWT", "x5t": certificate.x5t()}),
        AssertionAlg::Ps256 => {
            json!({"alg": alg.as_str(), "typ": "JWT", "x5t#S256": certificate.x5t_s256()})
        }
    };
    let now_secs = now.unix_timestamp();
    let claims = json!({
        "aud": token_endpoint,
        "iss": client_id.to_string(),
        "sub": client_id.to_string(),
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now_secs,
        "iat": now_secs,
        "exp": now_secs + JWT_LIFETIME.whole_seconds(),
    });
    sign(cert, alg, &header, &claims)
}

/// The proof JWT for Graph `addKey`/`removeKey` on the application with object id
/// `application`: signed (RS256, `x5t`) by a certificate already valid on that application.
pub fn key_proof(
    cert: &ClientCertificate,
    application: &ObjectId,
    now: OffsetDateTime,
) -> Result<SignedJwt, CertError> {
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": cert.certificate().x5t()});
    let nbf = now.unix_timestamp();
    let claims = json!({
        "aud": KEY_PROOF_AUDIENCE,
        "iss": application.to_string(),
        "nbf": nbf,
        "exp": nbf + JWT_LIFETIME.whole_seconds(),
    });
    sign(cert, AssertionAlg::Rs256, &header, &claims)
}

fn sign(
    cert: &ClientCertificate,
    alg: AssertionAlg,
    header: &Value,
    claims: &Value,
) -> Result<SignedJwt, CertError> {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // A ClientCertificate's key was parsed when it was made; a failure here is not the user's.
    let pair = cert.private_key().key_pair().map_err(|_| CertError::Sign {
        source: aws_lc_rs::error::Unspecified,
    })?;
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        alg.encoding(),
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|source| CertError::Sign { source })?;
    Ok(SignedJwt::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}
