//! Subject distinguished names as manifests write them and as entraform prints them.
//!
//! The text form follows RFC 4514 and Windows (`CN=app, O=Contoso, C=US`): the most specific
//! attribute first, so the certificate's ASN.1 order is the reverse. Printing a parsed
//! certificate uses the same convention, so a generated certificate's subject reads back exactly
//! as the manifest wrote it.

use rcgen::{DistinguishedName, DnType, DnValue};
use x509_parser::x509::X509Name;

use super::CertError;

/// The attribute types a manifest may use: what Windows, OpenSSL and the Entra portal all show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attribute {
    CommonName,
    Organization,
    OrganizationalUnit,
    Locality,
    State,
    Country,
}

impl Attribute {
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

    fn label(self) -> &'static str {
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
    fn max_chars(self) -> usize {
        match self {
            Self::CommonName | Self::Organization | Self::OrganizationalUnit => 64,
            Self::Locality | Self::State => 128,
            Self::Country => 2,
        }
    }

    fn dn_type(self) -> DnType {
        match self {
            Self::CommonName => DnType::CommonName,
            Self::Organization => DnType::OrganizationName,
            Self::OrganizationalUnit => DnType::OrganizationalUnitName,
            Self::Locality => DnType::LocalityName,
            Self::State => DnType::StateOrProvinceName,
            Self::Country => DnType::CountryName,
        }
    }
}

/// Checks a subject as a manifest writes it, without generating anything; manifest validation
/// can call this to report a bad subject before planning.
pub fn check_subject(subject: &str) -> Result<(), CertError> {
    parse(subject).map(|_| ())
}

/// Parses the text form into rcgen's name, in ASN.1 order.
pub(crate) fn distinguished_name(subject: &str) -> Result<DistinguishedName, CertError> {
    let mut dn = DistinguishedName::new();
    for (attribute, value) in parse(subject)?.into_iter().rev() {
        let value = if attribute == Attribute::Country {
            // RFC 5280: countryName is a PrintableString; parse() already checked the letters.
            DnValue::PrintableString(value.try_into().map_err(|_| invalid(subject, "bad C"))?)
        } else {
            DnValue::Utf8String(value)
        };
        dn.push(attribute.dn_type(), value);
    }
    Ok(dn)
}

fn invalid(subject: &str, reason: impl Into<String>) -> CertError {
    CertError::InvalidSubject {
        subject: subject.to_owned(),
        reason: reason.into(),
    }
}

/// Splits `TYPE=value, TYPE=value` with RFC 4514 backslash escapes, most specific first.
fn parse(subject: &str) -> Result<Vec<(Attribute, String)>, CertError> {
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut key = String::new();
    let mut value = String::new();
    let mut in_value = false;
    // Trailing unescaped spaces are insignificant; escaped ones are kept.
    let mut value_kept_len = 0;
    let mut chars = subject.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let escaped = chars
                    .next()
                    .ok_or_else(|| invalid(subject, "it ends with a lone `\\`"))?;
                if !in_value {
                    return Err(invalid(subject, "attribute types cannot contain `\\`"));
                }
                value.push(escaped);
                value_kept_len = value.len();
            }
            '=' if !in_value => in_value = true,
            ',' => {
                if !in_value {
                    return Err(invalid(
                        subject,
                        format!("`{}` has no `=value`", key.trim()),
                    ));
                }
                value.truncate(value_kept_len);
                parts.push((std::mem::take(&mut key), std::mem::take(&mut value)));
                in_value = false;
                value_kept_len = 0;
            }
            '+' if in_value => {
                return Err(invalid(
                    subject,
                    "multi-valued names (`+`) are not supported; write a literal plus as `\\+`",
                ));
            }
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
            invalid(subject, "it is empty")
        } else {
            invalid(subject, format!("`{}` has no `=value`", key.trim()))
        });
    }
    value.truncate(value_kept_len);
    parts.push((key, value));

    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (key, value) in parts {
        let key = key.trim();
        let attribute = Attribute::parse(key).ok_or_else(|| {
            invalid(
                subject,
                format!("`{key}` is not a supported attribute (CN, O, OU, L, ST, C)"),
            )
        })?;
        if seen.contains(&attribute) {
            return Err(invalid(
                subject,
                format!("`{}` appears more than once", attribute.label()),
            ));
        }
        seen.push(attribute);
        if value.is_empty() {
            return Err(invalid(
                subject,
                format!("`{}` is empty", attribute.label()),
            ));
        }
        let chars = value.chars().count();
        if attribute == Attribute::Country
            && !(chars == 2 && value.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Err(invalid(
                subject,
                "`C` must be a two-letter country code such as `US`",
            ));
        }
        if chars > attribute.max_chars() {
            return Err(invalid(
                subject,
                format!(
                    "`{}` is {chars} characters long; at most {} are allowed",
                    attribute.label(),
                    attribute.max_chars()
                ),
            ));
        }
        out.push((attribute, value));
    }
    Ok(out)
}

/// Prints a certificate name in the text form above: most specific attribute first.
pub(crate) fn format_name(name: &X509Name<'_>) -> String {
    let mut rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let label = match oid.as_str() {
                        "2.5.4.3" => "CN".to_owned(),
                        "2.5.4.10" => "O".to_owned(),
                        "2.5.4.11" => "OU".to_owned(),
                        "2.5.4.7" => "L".to_owned(),
                        "2.5.4.8" => "ST".to_owned(),
                        "2.5.4.6" => "C".to_owned(),
                        "0.9.2342.19200300.100.1.25" => "DC".to_owned(),
                        "1.2.840.113549.1.9.1" => "E".to_owned(),
                        _ => oid,
                    };
                    let value = match atv.as_str() {
                        Ok(text) => escape(text),
                        Err(_) => format!("#{}", hex::encode(atv.attr_value().data)),
                    };
                    format!("{label}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(", ")
}

fn escape(value: &str) -> String {
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

    fn parsed(s: &str) -> Vec<(&'static str, String)> {
        parse(s)
            .unwrap()
            .into_iter()
            .map(|(a, v)| (a.label(), v))
            .collect()
    }

    #[test]
    fn subjects_parse_most_specific_first_with_spaces_trimmed() {
        assert_eq!(
            parsed("CN=Exo_V2_App"),
            vec![("CN", "Exo_V2_App".to_owned())]
        );
        assert_eq!(
            parsed(" CN = My App ,O=Contoso\\, Ltd,  c=us"),
            vec![
                ("CN", "My App".to_owned()),
                ("O", "Contoso, Ltd".to_owned()),
                ("C", "us".to_owned())
            ]
        );
        assert_eq!(parsed("S=Bavaria"), vec![("ST", "Bavaria".to_owned())]);
        assert_eq!(parsed("CN=a\\ "), vec![("CN", "a ".to_owned())]);
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
            ("C=USA", "two-letter"),
            ("CN=a\\", "lone"),
            ("CN=a,", "no `=value`"),
        ] {
            let err = check_subject(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad:?}: {err}");
        }
        let long = format!("CN={}", "x".repeat(65));
        assert!(
            check_subject(&long)
                .unwrap_err()
                .to_string()
                .contains("at most 64")
        );
    }

    #[test]
    fn escaping_round_trips_special_characters() {
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape("#x "), "\\#x\\ ");
        assert_eq!(escape("plain"), "plain");
    }
}
