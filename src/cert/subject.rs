//! Subject distinguished names as manifests write them and as entraform prints them.
//!
//! The text form follows RFC 4514 and Windows (`CN=app, O=Contoso, C=US`): the most specific
//! attribute first, so the certificate's ASN.1 order is the reverse. Printing a parsed
//! certificate uses the same convention, so a generated certificate's subject reads back exactly
//! as the manifest wrote it.

use rcgen::{DistinguishedName, DnType, DnValue};
use x509_parser::x509::X509Name;

use super::CertError;
use crate::model::dn::{DnAttribute, DnKey, escape_dn_value, parse_dn};

/// Parses the text form (shared with manifest validation, see [`crate::model::dn`]) into
/// rcgen's name, in ASN.1 order.
pub(crate) fn distinguished_name(subject: &str) -> Result<DistinguishedName, CertError> {
    let attributes = parse_dn(subject).map_err(|e| CertError::InvalidSubject {
        subject: subject.to_owned(),
        reason: e.to_string(),
    })?;
    let mut dn = DistinguishedName::new();
    for DnAttribute { key, value } in attributes.into_iter().rev() {
        let value = if key == DnKey::Country {
            // RFC 5280: countryName is a PrintableString; parse_dn already checked the letters.
            DnValue::PrintableString(value.try_into().map_err(|_| CertError::InvalidSubject {
                subject: subject.to_owned(),
                reason: "`C` must be a two-letter country code such as `US`".to_owned(),
            })?)
        } else {
            DnValue::Utf8String(value)
        };
        dn.push(dn_type(key), value);
    }
    Ok(dn)
}

fn dn_type(key: DnKey) -> DnType {
    match key {
        DnKey::CommonName => DnType::CommonName,
        DnKey::Organization => DnType::OrganizationName,
        DnKey::OrganizationalUnit => DnType::OrganizationalUnitName,
        DnKey::Locality => DnType::LocalityName,
        DnKey::State => DnType::StateOrProvinceName,
        DnKey::Country => DnType::CountryName,
    }
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
                        Ok(text) => escape_dn_value(text),
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
