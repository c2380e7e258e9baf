//! A string that must never reach a log, a plan, an error or Debug output: client secrets,
//! tokens, assertions, passwords. Read it with [`Secret::expose`] at the one place it is sent.
//! Like the certificate secrets (`cert::secret`), its memory is wiped when it is dropped.

use std::fmt;

use zeroize::Zeroizing;

/// What a secret prints as, everywhere.
pub const REDACTED: &str = "<redacted>";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only while the text is held in a type that wipes itself on drop.
    fn wiped_on_drop(secret: &Secret) -> &impl zeroize::ZeroizeOnDrop {
        &secret.0
    }

    #[test]
    fn a_secret_is_redacted_everywhere_and_wiped_on_drop() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "<redacted> <redacted>");
        assert_eq!(secret.expose(), "hunter2");
        let _ = wiped_on_drop(&secret);
    }
}
