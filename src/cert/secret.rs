//! The secret-bearing types: a private key, a PFX password and a signed JWT. Each wipes its
//! memory on drop and prints as `<redacted>`, so no `{:?}` in a log or error can leak one.

use std::ffi::OsString;
use std::fmt;

use aws_lc_rs::signature::RsaKeyPair;
use zeroize::Zeroizing;

use super::CertError;

/// An RSA private key, held as PKCS#8 DER. It exists only in memory and inside a PFX.
#[derive(Clone)]
pub struct PrivateKey(Zeroizing<Vec<u8>>);

impl PrivateKey {
    pub(crate) fn from_pkcs8_der(der: Zeroizing<Vec<u8>>) -> Self {
        Self(der)
    }

    /// The PKCS#8 DER bytes. Named so that every use stands out in review.
    pub fn expose_pkcs8_der(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn key_pair(&self) -> Result<RsaKeyPair, aws_lc_rs::error::KeyRejected> {
        RsaKeyPair::from_pkcs8(&self.0)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// The password protecting a PFX. Never empty, and limited to the Basic Multilingual Plane
/// because PKCS#12 derives its MAC key from the password as a BMPString. Remembers the
/// environment variable it came from, so a wrong password can say which variable to fix.
#[derive(Clone)]
pub struct PfxPassword {
    secret: Zeroizing<String>,
    var: Option<String>,
}

impl PfxPassword {
    pub fn new(password: impl Into<String>) -> Result<Self, CertError> {
        Self::checked(Zeroizing::new(password.into()), None)
    }

    /// A password read from the environment variable `var`.
    pub fn from_variable(var: &str, password: impl Into<String>) -> Result<Self, CertError> {
        Self::checked(Zeroizing::new(password.into()), Some(var))
    }

    /// The environment variable the password came from, if it came from one.
    pub fn variable(&self) -> Option<&str> {
        self.var.as_deref()
    }

    fn checked(password: Zeroizing<String>, var: Option<&str>) -> Result<Self, CertError> {
        if password.is_empty() {
            return Err(CertError::PasswordEmpty {
                var: var.map(str::to_owned),
            });
        }
        if password.chars().any(|c| u32::from(c) > 0xFFFF) {
            return Err(CertError::PasswordNotBmp {
                var: var.map(str::to_owned),
            });
        }
        Ok(Self {
            secret: password,
            var: var.map(str::to_owned),
        })
    }

    /// The password text. Named so that every use stands out in review.
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for PfxPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PfxPassword(<redacted>)")
    }
}

/// Reads the PFX password from the environment variable a manifest names (`pfxPasswordEnv`).
/// A missing or empty variable is an error, so callers check it before changing anything.
pub fn pfx_password_from_env(var: &str) -> Result<PfxPassword, CertError> {
    password_from_value(var, std::env::var_os(var))
}

fn password_from_value(var: &str, value: Option<OsString>) -> Result<PfxPassword, CertError> {
    let value = value.ok_or_else(|| CertError::PasswordMissing {
        var: var.to_owned(),
    })?;
    let value = value.into_string().map_err(|raw| {
        drop(Zeroizing::new(raw.into_encoded_bytes()));
        CertError::PasswordNotUnicode {
            var: var.to_owned(),
        }
    })?;
    PfxPassword::checked(Zeroizing::new(value), Some(var))
}

/// A signed JWT (a client assertion or a key proof): a credential in its own right.
#[derive(Clone)]
pub struct SignedJwt(Zeroizing<String>);

impl SignedJwt {
    pub(crate) fn new(token: String) -> Self {
        Self(Zeroizing::new(token))
    }

    /// The compact JWT, for the request body that carries it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SignedJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignedJwt(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_refused_with_its_name() {
        let err = password_from_value("PFX_PASS", None).unwrap_err();
        assert!(matches!(&err, CertError::PasswordMissing { var } if var == "PFX_PASS"));
        assert!(err.to_string().contains("`PFX_PASS`"));
    }

    #[test]
    fn an_empty_variable_is_refused_with_a_hint_naming_it() {
        use crate::hint::Hint as _;
        let err = password_from_value("PFX_PASS", Some(OsString::new())).unwrap_err();
        assert!(matches!(&err, CertError::PasswordEmpty { var: Some(v) } if v == "PFX_PASS"));
        assert!(err.to_string().contains("`PFX_PASS`"), "{err}");
        assert!(err.hint().unwrap().contains("`PFX_PASS`"));
    }

    #[test]
    fn a_password_beyond_the_bmp_is_refused() {
        let err = password_from_value("PFX_PASS", Some("pässword🔑".into())).unwrap_err();
        assert!(matches!(err, CertError::PasswordNotBmp { .. }));
        assert!(PfxPassword::new("pässwörd").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_non_utf8_variable_is_refused_without_echoing_it() {
        use std::os::unix::ffi::OsStringExt as _;
        let err = password_from_value("PFX_PASS", Some(OsString::from_vec(vec![0xff, b'x'])))
            .unwrap_err();
        assert!(matches!(err, CertError::PasswordNotUnicode { .. }));
    }
}
