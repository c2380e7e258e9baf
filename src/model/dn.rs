//! Distinguished names as manifests write them and entraform prints them
//! (`CN=Exo_V2_App, O=Contoso, C=US`): RFC 4514 / Windows text form, most specific attribute
//! first, values escaped with a backslash. Parsed in one place so manifest validation and
//! certificate generation agree on what a subject means: a subject that validates can be
//! generated.

use std::fmt;

/// The attribute types a certificate subject may use: what Windows, OpenSSL and the Entra portal
/// all show, and what certificate generation can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DnKey {
    CommonName,
    Organization,
    OrganizationalUnit,
    Locality,
    State,
    Country,
}

impl DnKey {
    pub const ALL: [DnKey; 6] = [
        Self::CommonName,
        Self::Organization,
        Self::OrganizationalUnit,
        Self::Locality,
        Self::State,
        Self::Country,
    ];

    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "CN" => Self::CommonName,
            "O" => Self::Organization,
            "OU" => Self::OrganizationalUnit,
            "L" => Self::Locality,
            // Windows writes `S=`, RFC 4514 `ST=`.
            "ST" | "S" => Self::State,
            "C" => Self::Country,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::CommonName => "CN",
            Self::Organization => "O",
            Self::OrganizationalUnit => "OU",
            Self::Locality => "L",
            Self::State => "ST",
            Self::Country => "C",
        }
    }

    /// Upper bounds from RFC 5280 Appendix A (`ub-common-name` and friends).
    pub fn max_chars(self) -> usize {
        match self {
            Self::CommonName | Self::Organization | Self::OrganizationalUnit => 64,
            Self::Locality | Self::State => 128,
            Self::Country => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnAttribute {
    pub key: DnKey,
    /// Unescaped.
    pub value: String,
}

impl fmt::Display for DnAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key.label(), escape_dn_value(&self.value))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    #[error("it is empty")]
    Empty,
    #[error("`{0}` has no `=value`")]
    NotKeyValue(String),
    #[error("`{0}` is not a supported attribute (CN, O, OU, L, ST, C)")]
    UnknownKey(String),
    #[error("`{0}` is empty")]
    EmptyValue(&'static str),
    #[error("`{0}` appears more than once")]
    Repeated(&'static str),
    #[error("`C` must be a two-letter country code such as `US`")]
    Country,
    #[error("`{key}` is {chars} characters long; at most {max} are allowed")]
    TooLong {
        key: &'static str,
        chars: usize,
        max: usize,
    },
    #[error("multi-valued names (`+`) are not supported; write a literal plus as `\\+`")]
    MultiValued,
    #[error("it ends with a lone `\\`")]
    TrailingEscape,
    #[error("attribute types cannot contain `\\`")]
    EscapedKey,
}

/// Parses a subject, most specific attribute first as written; keys are case-insensitive and
/// unescaped spaces around parts are insignificant.
pub fn parse_dn(text: &str) -> Result<Vec<DnAttribute>, DnError> {
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut key = String::new();
    let mut value = String::new();
    let mut in_value = false;
    // Trailing unescaped spaces are insignificant; escaped ones are kept.
    let mut value_kept_len = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let escaped = chars.next().ok_or(DnError::TrailingEscape)?;
                if !in_value {
                    return Err(DnError::EscapedKey);
                }
                value.push(escaped);
                value_kept_len = value.len();
            }
            '=' if !in_value => in_value = true,
            ',' => {
                if !in_value {
                    return Err(DnError::NotKeyValue(key.trim().to_owned()));
                }
                value.truncate(value_kept_len);
                parts.push((std::mem::take(&mut key), std::mem::take(&mut value)));
                in_value = false;
                value_kept_len = 0;
            }
            '+' if in_value => return Err(DnError::MultiValued),
            c if in_value => {
                if !(value.is_empty() && c == ' ') {
                    value.push(c);
                    if c != ' ' {
                        value_kept_len = value.len();
                    }
                }
            }
            c => key.push(c),
        }
    }
    if !in_value {
        return Err(if key.trim().is_empty() && parts.is_empty() {
            DnError::Empty
        } else {
            DnError::NotKeyValue(key.trim().to_owned())
        });
    }
    value.truncate(value_kept_len);
    parts.push((key, value));

    let mut out: Vec<DnAttribute> = Vec::with_capacity(parts.len());
    for (key, value) in parts {
        let key = key.trim();
        let key = DnKey::parse(key).ok_or_else(|| DnError::UnknownKey(key.to_owned()))?;
        if out.iter().any(|a| a.key == key) {
            return Err(DnError::Repeated(key.label()));
        }
        if value.is_empty() {
            return Err(DnError::EmptyValue(key.label()));
        }
        let chars = value.chars().count();
        if key == DnKey::Country && !(chars == 2 && value.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Err(DnError::Country);
        }
        if chars > key.max_chars() {
            return Err(DnError::TooLong {
                key: key.label(),
                chars,
                max: key.max_chars(),
            });
        }
        out.push(DnAttribute { key, value });
    }
    Ok(out)
}

/// Escapes a value for the text form, e.g. the default subject `CN=<displayName>`.
pub fn escape_dn_value(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<(&'static str, String)> {
        parse_dn(text)
            .unwrap()
            .into_iter()
            .map(|a| (a.key.label(), a.value))
            .collect()
    }

    #[test]
    fn subjects_parse_most_specific_first_with_spaces_trimmed() {
        assert_eq!(parsed("CN=Exo_V2_App"), [("CN", "Exo_V2_App".to_owned())]);
        assert_eq!(
            parsed(" CN = My App ,O=Contoso\\, Ltd,  c=us"),
            [
                ("CN", "My App".to_owned()),
                ("O", "Contoso, Ltd".to_owned()),
                ("C", "us".to_owned())
            ]
        );
        assert_eq!(parsed("S=Bavaria"), [("ST", "Bavaria".to_owned())]);
        assert_eq!(parsed("CN=a\\ "), [("CN", "a ".to_owned())]);
    }

    #[test]
    fn escaped_values_round_trip() {
        for value in [
            "Contoso, Inc",
            "a+b",
            "x=y",
            " lead",
            "trail ",
            "back\\slash",
            "#x",
        ] {
            let dn = format!("CN={}", escape_dn_value(value));
            assert_eq!(parsed(&dn), [("CN", value.to_owned())], "{dn}");
        }
        assert_eq!(escape_dn_value("#x "), "\\#x\\ ");
    }

    #[test]
    fn malformed_subjects_are_refused_with_a_reason() {
        for (bad, reason) in [
            ("", "empty"),
            ("Exo_V2_App", "no `=value`"),
            ("CN=", "`CN` is empty"),
            ("CN=a, CN=b", "more than once"),
            ("CN=a+O=b", "multi-valued"),
            ("X=1", "not a supported attribute"),
            ("E=a@b.c", "not a supported attribute"),
            ("C=USA", "two-letter"),
            ("CN=a\\", "lone"),
            ("CN=a,", "no `=value`"),
        ] {
            let err = parse_dn(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad:?}: {err}");
        }
        let long = format!("CN={}", "x".repeat(65));
        assert!(
            parse_dn(&long)
                .unwrap_err()
                .to_string()
                .contains("at most 64")
        );
    }
}
