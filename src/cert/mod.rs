//! Certificates: everything entraform does with X.509 certificates and their keys.
//!
//! - [`generate`]: self-signed RSA certificates for app-only sign-in (Exchange Online, Graph).
//! - [`write_pfx`]: the PFX Windows imports into a CSP (AES-256 or legacy 3DES), and
//!   [`write_secret_file`] / [`write_cer_file`]: 0600 files, atomic, never overwriting one.
//! - [`read_public_certificate`]: a `file:` certificate to attach (public only, RSA).
//! - [`load_client_certificate`]: a sign-in certificate with its key (PEM or PFX).
//! - [`client_assertion`] and [`key_proof`]: the JWTs signed with such a certificate.
//! - [`PublicCertificate`]: the pieces a key credential is made of (base64 DER, thumbprint,
//!   start and end in RFC 3339); the Graph client turns them into wire JSON.
//!
//! Private keys, PFX passwords and signed JWTs live only in [`PrivateKey`], [`PfxPassword`] and
//! [`SignedJwt`], which wipe their memory on drop and print as `<redacted>`. Apart from the file
//! helpers and the two readers, everything here is pure: no clock (`now` is passed in), no
//! environment except [`pfx_password_from_env`].

mod error;
mod files;
mod generate;
mod jwt;
mod pfx;
mod read;
mod secret;
mod subject;
mod x509;

pub use error::CertError;
pub use files::{
    WrittenFile, kept_previous_files, leftover_temp_files, remove_leftover_temp_files,
    write_cer_file, write_secret_file, write_secret_file_keeping,
};
pub use generate::{GenerateRequest, GeneratedCertificate, NOT_BEFORE_SKEW, generate};
pub use jwt::{AssertionAlg, JWT_LIFETIME, KEY_PROOF_AUDIENCE, client_assertion, key_proof};
pub use pfx::{MICROSOFT_CSP_NAME, pfx_thumbprint, write_pfx};
pub use read::{
    ClientCertificate, client_certificate_from_pfx, is_certificate_file, is_pfx_file,
    load_client_certificate, read_public_certificate, written_file_thumbprint, written_thumbprint,
};
pub use secret::{PfxPassword, PrivateKey, SignedJwt, pfx_password_from_env};
pub use x509::PublicCertificate;
