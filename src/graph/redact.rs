//! Keeping secrets out of logs: redaction of the JSON and form bodies that request/response traces print.
//!
//! Traces may show methods, URLs, statuses, ids, sizes and Graph JSON, but never bearer tokens,
//! client secrets, assertions, passwords or private keys.

pub use crate::secret::{REDACTED, Secret};

/// Field names whose values are secrets wherever they appear (compared case-insensitively,
/// ignoring `_` and `-`, so `client_secret`, `clientSecret` and `client-secret` all match).
const SECRET_KEYS: &[&str] = &[
    "authorization",
    "clientsecret",
    "clientassertion",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "proof",
    "secrettext",
    "password",
    "pfxpassword",
    "privatekey",
    "assertion",
];

pub fn is_secret_key(key: &str) -> bool {
    let normalised: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEYS.contains(&normalised.as_str())
}

/// A JSON value with every secret field replaced and PEM private keys blanked out.
pub fn json_value(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        json_value(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(json_value).collect()),
        Value::String(s) => Value::String(text(s)),
        other => other.clone(),
    }
}

/// A body for a trace line: redacted JSON when it parses, otherwise redacted text, cut to a
/// readable length either way.
pub fn body(bytes: &[u8]) -> String {
    const LIMIT: usize = 16 * 1024;
    let shown = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => json_value(&v).to_string(),
        Err(_) => form_or_text(&String::from_utf8_lossy(bytes)),
    };
    if shown.len() > LIMIT {
        let cut = (0..=LIMIT)
            .rev()
            .find(|i| shown.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}… ({} bytes)", &shown[..cut], bytes.len())
    } else {
        shown
    }
}

/// Form fields as `k=v&…` with secret values replaced (values are shown unencoded).
pub fn form(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            if is_secret_key(k) {
                format!("{k}={REDACTED}")
            } else {
                format!("{k}={}", text(v))
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `a=1&client_secret=x` → `a=1&client_secret=<redacted>`; non-form text goes through [`text`].
fn form_or_text(s: &str) -> String {
    let looks_like_form = !s.contains(char::is_whitespace) && s.contains('=');
    if !looks_like_form {
        return text(s);
    }
    s.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_key(k) => format!("{k}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Known secrets shorter than this are not searched for: a short value would blank ordinary
/// words, and every secret entraform sends (a client secret, an assertion, a token) is longer.
const MIN_KNOWN_SECRET: usize = 8;

/// Text a server sent (an error message or description), made safe to print: the secret values
/// the request carried (`sent`, also as a form, a URL or JSON would encode them), the value of
/// every secret field written `key=value` or `"key": "value"` (`client_secret=…`,
/// `client_assertion=…`), and whatever [`text`] blanks (private keys, bearer tokens, JWTs). A
/// token endpoint or proxy that echoes the request must not get a secret printed.
pub fn server_message(s: &str, sent: &[&str]) -> String {
    let mut out = s.to_owned();
    for secret in sent.iter().filter(|v| v.len() >= MIN_KNOWN_SECRET) {
        for spelling in spellings(secret) {
            out = out.replace(&spelling, REDACTED);
        }
    }
    secret_fields(&text(&out))
}

/// A value as it may appear in echoed text: as is, form-encoded, percent-encoded, JSON-escaped.
fn spellings(secret: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let percent = form.replace('+', "%20");
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.trim_matches('"').to_owned();
    let mut all = vec![secret.to_owned(), form, percent, json];
    all.sort();
    all.dedup();
    // Longest first, so no spelling is left half-replaced by a shorter one.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all
}

/// Blanks the value after every secret key written `key=value`, `key: value` or
/// `"key": "value"`.
fn secret_fields(s: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let starts_word = rest.starts_with(word) && !s[..i].ends_with(word);
        if !starts_word {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let len = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
        let key = &rest[..len];
        out.push_str(key);
        i += len;
        if !is_secret_key(key) {
            continue;
        }
        // `"key"` closes its quote; then the separator, spaces around it, an opening quote.
        let after = &s[i..];
        let sep = after
            .strip_prefix('"')
            .unwrap_or(after)
            .trim_start_matches(' ');
        let Some(value) = sep.strip_prefix('=').or_else(|| sep.strip_prefix(':')) else {
            continue;
        };
        let value = value.trim_start_matches(' ');
        let lead = after.len() - value.len();
        let (quote, body) = match value.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &value[1..]),
            _ => (None, value),
        };
        let end = match quote {
            Some(q) => body.find(q).unwrap_or(body.len()),
            None => body
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '&' | ',' | ';' | ')' | ']' | '}' | '"' | '\'')
                })
                .unwrap_or(body.len()),
        };
        if end == 0 {
            continue;
        }
        out.push_str(&after[..lead + quote.map_or(0, char::len_utf8)]);
        out.push_str(REDACTED);
        i += lead + quote.map_or(0, char::len_utf8) + end;
    }
    out
}

/// Blanks out PEM private key blocks and anything that looks like a bearer token or JWT inside
/// free text (error messages can quote a token back).
pub fn text(s: &str) -> String {
    let mut out = redact_pem_keys(s);
    out = redact_after(&out, "Bearer ");
    redact_jwts(&out)
}

fn redact_pem_keys(s: &str) -> String {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(BEGIN) {
        let after_begin = &rest[start + BEGIN.len()..];
        let label = after_begin.split("-----").next().unwrap_or("");
        let header_len = BEGIN.len() + label.len() + 5;
        out.push_str(&rest[..start]);
        if !label.contains("PRIVATE KEY") {
            let keep = header_len.min(rest.len() - start);
            out.push_str(&rest[start..start + keep]);
            rest = &rest[start + keep..];
            continue;
        }
        out.push_str(REDACTED);
        let end_marker = format!("-----END {label}-----");
        rest = match rest[start..].find(&end_marker) {
            Some(i) => &rest[start + i + end_marker.len()..],
            // A truncated key is still a key: drop everything after its header.
            None => "",
        };
    }
    out.push_str(rest);
    out
}

fn redact_after(s: &str, marker: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        let after = &rest[i + marker.len()..];
        let len = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == ',')
            .unwrap_or(after.len());
        if len > 0 {
            out.push_str(REDACTED);
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Three dot-separated base64url runs starting `eyJ` (a JSON header): a JWT.
fn redact_jwts(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("eyJ") {
        let candidate = &rest[i..];
        let len = candidate
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')))
            .unwrap_or(candidate.len());
        let token = &candidate[..len];
        out.push_str(&rest[..i]);
        if token.split('.').filter(|p| !p.is_empty()).count() >= 2 && token.contains('.') {
            out.push_str(REDACTED);
        } else {
            out.push_str(token);
        }
        rest = &candidate[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_as_redacted_in_debug_and_display() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_fields_are_redacted_at_any_depth_in_json() {
        let v = serde_json::json!({
            "access_token": "tok-123",
            "passwordCredentials": [{"secretText": "s3cret", "displayName": "ci"}],
            "keyCredentials": [{"key": "MIIB-public-cert", "proof": "proof-jwt"}],
            "client_secret": null,
            "nested": {"Authorization": "Bearer abc"}
        });
        let shown = json_value(&v).to_string();
        for secret in ["tok-123", "s3cret", "proof-jwt", "Bearer abc"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        // Public certificates and names stay readable.
        assert!(shown.contains("MIIB-public-cert") && shown.contains("\"ci\""));
    }

    #[test]
    fn form_bodies_lose_their_secret_values() {
        let shown = body(b"grant_type=client_credentials&client_id=abc&client_secret=p%40ss&client_assertion=eyJh.eyJi.c2ln");
        assert_eq!(
            shown,
            "grant_type=client_credentials&client_id=abc&client_secret=<redacted>&client_assertion=<redacted>"
        );
    }

    #[test]
    fn form_pairs_are_shown_with_secret_values_replaced() {
        let shown = form(&[
            ("client_id", "abc".to_owned()),
            ("client_secret", "p@ss word".to_owned()),
        ]);
        assert_eq!(shown, "client_id=abc&client_secret=<redacted>");
    }

    #[test]
    fn a_server_echoing_the_request_prints_no_secret() {
        // What an echoing token endpoint or proxy sends back in its error text.
        let secret = "8Q~a+b/c%d e";
        let echoed = format!(
            "AADSTS90014: bad request grant_type=client_credentials&client_id=abc&client_secret={}&client_assertion=eyJhbGc.eyJzdWI.c2ln&scope=x",
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()
        );
        let shown = server_message(&echoed, &[secret]);
        assert_eq!(
            shown,
            "AADSTS90014: bad request grant_type=client_credentials&client_id=abc&client_secret=<redacted>&client_assertion=<redacted>&scope=x"
        );
        // The value itself, wherever it is quoted, and JSON fields.
        let shown = server_message(
            &format!(
                r#"unexpected {secret} in {{"client_secret": "{secret}", "password":"p4ss"}}"#
            ),
            &[secret],
        );
        assert_eq!(
            shown,
            r#"unexpected <redacted> in {"client_secret": "<redacted>", "password":"<redacted>"}"#
        );
        let shown = server_message("Authorization: Bearer abc.def", &[]);
        assert_eq!(shown, "Authorization: <redacted> <redacted>");
    }

    #[test]
    fn ordinary_messages_mentioning_secret_fields_are_left_alone() {
        for message in [
            "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            "AADSTS700027: Client assertion failed signature validation.",
            "Invalid client secret provided.",
        ] {
            assert_eq!(server_message(message, &["unrelated-secret"]), message);
        }
    }

    #[test]
    fn pem_private_keys_bearer_tokens_and_jwts_are_blanked_in_text() {
        let pem = "before -----BEGIN PRIVATE KEY-----\nMIIEv\nabc\n-----END PRIVATE KEY----- after \
                   -----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----";
        let shown = text(pem);
        assert!(!shown.contains("MIIEv"), "{shown}");
        assert!(shown.starts_with("before <redacted> after -----BEGIN CERTIFICATE-----"));
        let shown = text("header Bearer abc.def.ghi, token eyJhbGciOi.eyJzdWIi.sig end");
        assert_eq!(shown, "header Bearer <redacted>, token <redacted> end");
        let rsa = text("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----");
        assert_eq!(rsa, "<redacted>");
    }
}
