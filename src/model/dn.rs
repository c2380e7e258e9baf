//! Distinguished names as written in manifests (`CN=Exo_V2_App, O=Contoso`): `KEY=value` parts
//! separated by commas, values escaped with a backslash (`\,`) as in RFC 4514. Parsed once here
//! so validation and certificate generation agree on what a subject means.

use std::fmt;

/// The attribute types a certificate subject may use, by their usual short names.
pub const DN_KEYS: [&str; 8] = ["CN", "O", "OU", "L", "ST", "C", "E", "DC"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnAttribute {
    /// One of [`DN_KEYS`], upper-case.
    pub key: &'static str,
    /// Unescaped.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    #[error("the subject is empty")]
    Empty,
    #[error("`{0}` is not a `KEY=value` part")]
    NotKeyValue(String),
    #[error("`{0}` is not a supported attribute (use CN, O, OU, L, ST, C, E or DC)")]
    UnknownKey(String),
    #[error("`{0}=` has an empty value")]
    EmptyValue(String),
    #[error("`C={0}` must be a two-letter country code")]
    Country(String),
    #[error("multi-valued parts (`+`) are not supported; escape a literal plus as `\\+`")]
    MultiValued,
    #[error("the subject ends with a lone backslash")]
    TrailingEscape,
}

/// Parses a subject; keys are case-insensitive, spaces around parts are ignored.
pub fn parse_dn(text: &str) -> Result<Vec<DnAttribute>, DnError> {
    if text.trim().is_empty() {
        return Err(DnError::Empty);
    }
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut current = String::new();
    // Trailing unescaped spaces are trimmed; escaped ones are kept, so track them separately.
    let mut kept_len = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let escaped = chars.next().ok_or(DnError::TrailingEscape)?;
                // Keep the escape so `=` splitting below sees an escaped `=` as value text.
                current.push('\\');
                current.push(escaped);
                kept_len = current.len();
            }
            ',' => {
                parts.push(split_part(&current[..kept_len.max(trimmed_len(&current))])?);
                current.clear();
                kept_len = 0;
            }
            '+' => return Err(DnError::MultiValued),
            c => current.push(c),
        }
    }
    parts.push(split_part(&current[..kept_len.max(trimmed_len(&current))])?);

    parts
        .into_iter()
        .map(|(key, value)| {
            let upper = key.to_ascii_uppercase();
            let key = DN_KEYS
                .into_iter()
                .find(|k| *k == upper)
                .ok_or(DnError::UnknownKey(key))?;
            if value.is_empty() {
                return Err(DnError::EmptyValue(key.to_owned()));
            }
            if key == "C" && !(value.len() == 2 && value.chars().all(|c| c.is_ascii_alphabetic())) {
                return Err(DnError::Country(value));
            }
            Ok(DnAttribute { key, value })
        })
        .collect()
}

fn trimmed_len(s: &str) -> usize {
    s.trim_end().len()
}

fn split_part(raw: &str) -> Result<(String, String), DnError> {
    let raw = raw.trim_start();
    let mut key = String::new();
    let mut chars = raw.chars();
    loop {
        match chars.next() {
            Some('=') => break,
            Some('\\') | None => return Err(DnError::NotKeyValue(raw.to_owned())),
            Some(c) => key.push(c),
        }
    }
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err(DnError::NotKeyValue(raw.to_owned()));
    }
    let mut value = String::new();
    let rest: String = chars.collect();
    let mut chars = rest.trim_start().chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(e) = chars.next() {
                value.push(e);
            }
        } else {
            value.push(c);
        }
    }
    Ok((key, value))
}

/// Escapes a value for use in a subject, e.g. the default `CN=<displayName>`.
pub fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i == last);
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') || edge_space {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for DnAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, escape_dn_value(&self.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(text: &str) -> Vec<(&'static str, String)> {
        parse_dn(text)
            .unwrap()
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect()
    }

    #[test]
    fn parts_parse_with_any_key_case_and_spacing() {
        assert_eq!(
            attrs("CN=Exo_V2_App, o=Contoso ,OU = IT"),
            [
                ("CN", "Exo_V2_App".to_owned()),
                ("O", "Contoso".to_owned()),
                ("OU", "IT".to_owned())
            ]
        );
    }

    #[test]
    fn escaped_values_round_trip() {
        for value in ["Contoso, Inc", "a+b", "x=y", " lead", "back\\slash"] {
            let dn = format!("CN={}", escape_dn_value(value));
            assert_eq!(attrs(&dn), [("CN", value.to_owned())], "{dn}");
        }
    }

    #[test]
    fn malformed_subjects_are_refused_with_a_reason() {
        assert_eq!(parse_dn(""), Err(DnError::Empty));
        assert_eq!(parse_dn("Exo"), Err(DnError::NotKeyValue("Exo".to_owned())));
        assert_eq!(parse_dn("XX=1"), Err(DnError::UnknownKey("XX".to_owned())));
        assert_eq!(parse_dn("CN="), Err(DnError::EmptyValue("CN".to_owned())));
        assert_eq!(
            parse_dn("CN=a, C=USA"),
            Err(DnError::Country("USA".to_owned()))
        );
        assert_eq!(parse_dn("CN=a+O=b"), Err(DnError::MultiValued));
        assert_eq!(parse_dn("CN=a\\"), Err(DnError::TrailingEscape));
        assert!(matches!(parse_dn("CN=a,"), Err(DnError::NotKeyValue(_))));
    }
}
