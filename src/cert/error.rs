//! The certificate layer's error. Messages name the file or variable involved and never carry
//! key material or passwords: only paths, variable names and public certificate facts.

use std::path::PathBuf;

use crate::hint::Hint;
use crate::model::Period;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("`{subject}` is not a usable certificate subject: {reason}")]
    InvalidSubject { subject: String, reason: String },

    #[error("a certificate valid for `{validity}` from now would end after the year 9999")]
    ValidityOutOfRange { validity: Period },

    #[error("could not generate an RSA {bits}-bit key")]
    KeyGeneration {
        bits: u32,
        #[source]
        source: rcgen::Error,
    },

    #[error("could not build the certificate for `{subject}`")]
    BuildCertificate {
        subject: String,
        #[source]
        source: rcgen::Error,
    },

    #[error("the environment variable `{var}` (the PFX password) is not set")]
    PasswordMissing { var: String },

    #[error("{}", password_problem(var.as_deref(), "is empty"))]
    PasswordEmpty { var: Option<String> },

    #[error("the environment variable `{var}` (the PFX password) is not valid UTF-8")]
    PasswordNotUnicode { var: String },

    #[error(
        "{}",
        password_problem(
            var.as_deref(),
            "contains characters outside Unicode's Basic Multilingual Plane, which PKCS#12 cannot encode"
        )
    )]
    PasswordNotBmp { var: Option<String> },

    #[error("could not build the PFX ({step})")]
    BuildPfx {
        step: &'static str,
        #[source]
        source: BoxError,
    },

    #[error("could not read `{path}`", path = path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not {operation} `{path}`", path = path.display())]
    Write {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "`{path}` holds a private key, but a `file:` certificate must be the public certificate only",
        path = path.display()
    )]
    PrivateKeyInCertificateFile { path: PathBuf },

    #[error("`{path}` holds no certificate", path = path.display())]
    NoCertificate { path: PathBuf },

    #[error("`{path}` holds {count} certificates; expected exactly one", path = path.display())]
    SeveralCertificates { path: PathBuf, count: usize },

    #[error("{origin} is not a valid X.509 certificate: {reason}")]
    InvalidCertificate { origin: String, reason: String },

    #[error(
        "{origin} has a {algorithm} key, but Entra ID accepts only RSA certificates for client assertions"
    )]
    NotRsa { origin: String, algorithm: String },

    #[error("`{path}` is neither a PEM file nor a PFX (PKCS#12) file", path = path.display())]
    UnknownFormat { path: PathBuf },

    #[error("`{path}` holds a certificate but no private key", path = path.display())]
    NoPrivateKey { path: PathBuf },

    #[error("`{path}` holds {count} private keys; expected exactly one", path = path.display())]
    SeveralPrivateKeys { path: PathBuf, count: usize },

    #[error("the private key in `{path}` is encrypted", path = path.display())]
    EncryptedPrivateKey { path: PathBuf },

    #[error("the private key in `{path}` is not a usable RSA key ({reason})", path = path.display())]
    InvalidPrivateKey { path: PathBuf, reason: String },

    #[error("no certificate in `{path}` belongs to its private key", path = path.display())]
    KeyDoesNotMatch { path: PathBuf },

    #[error(
        "{}",
        match (password_given, var) {
            (true, Some(var)) => format!(
                "wrong password for `{}`: the password in `{var}` does not open it",
                path.display()
            ),
            (true, None) => format!("wrong password for `{}`", path.display()),
            (false, _) => format!("`{}` is password-protected and no password was given", path.display()),
        }
    )]
    WrongPassword {
        path: PathBuf,
        password_given: bool,
        /// The environment variable the wrong password came from.
        var: Option<String>,
    },

    #[error("could not read the PFX `{path}`", path = path.display())]
    UnreadablePfx {
        path: PathBuf,
        #[source]
        source: p12_keystore::error::Error,
    },

    #[error("could not sign the JWT with the certificate's key")]
    Sign {
        #[source]
        source: aws_lc_rs::error::Unspecified,
    },
}

fn password_problem(var: Option<&str>, problem: &str) -> String {
    match var {
        Some(var) => format!("the environment variable `{var}` (the PFX password) {problem}"),
        None => format!("the PFX password {problem}"),
    }
}

impl CertError {
    pub(crate) fn build_pfx(step: &'static str, source: impl Into<BoxError>) -> Self {
        CertError::BuildPfx {
            step,
            source: source.into(),
        }
    }
}

impl Hint for CertError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            CertError::InvalidSubject { .. } => {
                "write a distinguished name such as `CN=Exo_V2_App` \
                 or `CN=app, O=Contoso, C=US` (attributes: CN, O, OU, L, ST, C; each at most once)"
                    .to_owned()
            }
            CertError::ValidityOutOfRange { .. } => "choose a shorter `validity`".to_owned(),
            CertError::PasswordMissing { var } | CertError::PasswordNotUnicode { var } => {
                format!(
                    "set `{var}` to the PFX password before running entraform (in CI, from a secret); nothing was changed"
                )
            }
            CertError::PasswordEmpty { var: Some(var) } => format!(
                "set `{var}` to a non-empty PFX password (in CI, from a secret); nothing was changed"
            ),
            CertError::PasswordNotBmp { .. } => {
                "choose a password without emoji or other characters beyond U+FFFF".to_owned()
            }
            CertError::PrivateKeyInCertificateFile { path } => format!(
                "give `file:` the public certificate only, e.g. `openssl x509 -in {} -outform DER -out app.cer`, \
                 and keep the private key out of the repository",
                path.display()
            ),
            CertError::SeveralCertificates { .. } => {
                "split the file so that it holds only the certificate to attach".to_owned()
            }
            CertError::NotRsa { .. } => "use an RSA certificate (2048 bits or more); entraform \
                 generates one with `generate: {keyType: rsa2048}`"
                .to_owned(),
            CertError::UnknownFormat { .. } => {
                "give a PEM file holding the certificate and its private key, or a PFX file"
                    .to_owned()
            }
            CertError::NoPrivateKey { .. } => "append the private key (`PRIVATE KEY` or \
                 `RSA PRIVATE KEY`) to the PEM file, or use a PFX file"
                .to_owned(),
            CertError::EncryptedPrivateKey { path } => format!(
                "decrypt it into a file only you can read (`openssl pkey -in {}`), or use a PFX file with a password",
                path.display()
            ),
            CertError::KeyDoesNotMatch { .. } => {
                "put the certificate that belongs to this private key in the same file".to_owned()
            }
            CertError::WrongPassword {
                password_given: true,
                var: Some(var),
                ..
            } => {
                format!("set `{var}` to the password the PFX was written with; nothing was changed")
            }
            CertError::WrongPassword {
                password_given: true,
                ..
            } => "check the PFX password".to_owned(),
            CertError::WrongPassword {
                password_given: false,
                ..
            } => "give the PFX password (for sign-in: `AZURE_CLIENT_CERTIFICATE_PASSWORD`)"
                .to_owned(),
            _ => return None,
        })
    }
}
