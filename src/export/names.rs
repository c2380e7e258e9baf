//! Names an export gives: `metadata.name` for each app (its `uniqueName`, or a slug of its
//! display name that nothing else uses) and the manifest's certificate names.

use std::collections::BTreeSet;

use crate::model::{
    AppId, CERTIFICATE_DISPLAY_NAME_PREFIX, LiveKeyCredential, MAX_CERTIFICATE_NAME,
};

/// The longest `metadata.name` (and Graph `uniqueName` entraform writes).
const MAX_NAME: usize = 64;

/// `Exo_V2_App` → `exo-v2-app`: lower-case ASCII letters and digits, runs of anything else
/// become one hyphen, at most 64 characters, no hyphen at either end. May be empty.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    truncate_name(&out, MAX_NAME)
}

fn truncate_name(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// Whether `name` is a valid `metadata.name`: `^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`.
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=MAX_NAME).contains(&b.len())
        && edge(b[0])
        && edge(b[b.len() - 1])
        && b.iter().all(|&c| edge(c) || c == b'-')
}

/// The `metadata.name` an app keeps: its `uniqueName` when it has one. entraform matches
/// `uniqueName` without regard to case, so `Exo-App` is managed as `exo-app`; a `uniqueName`
/// that is not a valid name even in lower case cannot be managed (Graph never changes it).
pub fn kept_name(unique_name: &str) -> Result<String, String> {
    let lower = unique_name.to_ascii_lowercase();
    if is_valid_name(&lower) {
        Ok(lower)
    } else {
        Err(format!(
            "its uniqueName `{unique_name}` is not a valid `metadata.name` (1 to 64 lower-case letters, digits and hyphens), and Graph never changes a uniqueName"
        ))
    }
}

/// The slug an app without `uniqueName` is first offered: its display name's, or `app-<first
/// part of the appId>` when the display name has no ASCII letters or digits.
pub fn base_name(display_name: &str, app_id: AppId) -> String {
    let s = slug(display_name);
    if s.is_empty() {
        let id = app_id.to_string();
        format!("app-{}", &id[..8])
    } else {
        s
    }
}

/// `base`, else `base-2`, `base-3`, … : the first candidate `taken` refuses (compared in lower
/// case, as Graph compares `uniqueName`), shortened so the suffix fits in 64 characters.
pub fn first_free(base: &str, taken: &dyn Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2u32..)
        .map(|n| {
            let suffix = format!("-{n}");
            format!("{}{suffix}", truncate_name(base, MAX_NAME - suffix.len()))
        })
        .find(|candidate| !taken(candidate))
        .expect("some suffix is free")
}

/// Certificate names for an app's key credentials, in the order given: the entraform name of a
/// key entraform attached (`entraform:automation` → `automation`), else a slug of the key's
/// display name, else its thumbprint. A name is made unique with the key's thumbprint, and
/// never equals `<n>` while another key is named `entraform:<n>`: the planner would take that
/// other key for an older generation of this certificate and remove it.
pub fn certificate_names(keys: &[(&LiveKeyCredential, String)]) -> Vec<String> {
    let entraform_names: Vec<Option<&str>> = keys
        .iter()
        .map(|(k, _)| {
            k.display_name
                .as_deref()
                .and_then(|d| d.strip_prefix(CERTIFICATE_DISPLAY_NAME_PREFIX))
        })
        .collect();
    let bases: Vec<String> = keys
        .iter()
        .zip(&entraform_names)
        .map(|((k, thumb), own)| match own {
            Some(n) if !n.trim().is_empty() => (*n).to_owned(),
            _ => {
                let s = k.display_name.as_deref().map(slug).unwrap_or_default();
                if s.is_empty() {
                    thumb.to_lowercase()
                } else {
                    s
                }
            }
        })
        .collect();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(keys.len());
    for (i, ((_, thumb), base)) in keys.iter().zip(&bases).enumerate() {
        let shared = bases.iter().filter(|b| *b == base).count() > 1;
        let claimed_elsewhere = entraform_names
            .iter()
            .enumerate()
            .any(|(j, own)| j != i && *own == Some(base.as_str()));
        // A suffix must not push the name past what a key's display name can hold.
        let suffixed = |suffix: &str| {
            format!(
                "{}{suffix}",
                truncate_name(base, MAX_CERTIFICATE_NAME - suffix.len())
            )
        };
        let short = thumb.to_lowercase()[..8].to_owned();
        let mut candidates = (!shared && !claimed_elsewhere)
            .then(|| base.clone())
            .into_iter()
            .chain(std::iter::once(suffixed(&format!("-{short}"))))
            .chain((2u32..).map(|n| suffixed(&format!("-{short}-{n}"))));
        let name = candidates
            .find(|name| {
                !used.contains(name)
                    && !entraform_names
                        .iter()
                        .enumerate()
                        .any(|(j, own)| j != i && *own == Some(name.as_str()))
            })
            .expect("some suffix is free");
        used.insert(name.clone());
        out.push(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_name_pattern() {
        assert_eq!(slug("Exo_V2_App"), "exo-v2-app");
        assert_eq!(
            slug("  GitHub Deployer (contoso/platform) "),
            "github-deployer-contoso-platform"
        );
        assert_eq!(slug("Café—App"), "caf-app");
        assert_eq!(slug("日本語"), "");
        assert_eq!(slug(&"a".repeat(70)).len(), 64);
        assert_eq!(slug(&format!("{}-b", "a".repeat(63))), "a".repeat(63));
        for s in ["Exo_V2_App", "x", "A--B", "--a--"] {
            assert!(is_valid_name(&slug(s)), "{s}");
        }
    }

    #[test]
    fn a_name_with_no_letters_falls_back_to_the_app_id() {
        let id: AppId = "6b3c1e2a-0000-4000-8000-000000000001".parse().unwrap();
        assert_eq!(base_name("日本語", id), "app-6b3c1e2a");
        assert_eq!(base_name("Mail Bot", id), "mail-bot");
    }

    #[test]
    fn taken_names_get_the_next_free_number_within_64_characters() {
        let taken = |n: &str| ["exo", "exo-2"].contains(&n);
        assert_eq!(first_free("exo", &taken), "exo-3");
        assert_eq!(first_free("free", &taken), "free");
        let long = "a".repeat(64);
        let taken_long = |n: &str| n == long;
        let next = first_free(&long, &taken_long);
        assert_eq!(next.len(), 64);
        assert!(next.ends_with("-2") && is_valid_name(&next));
    }

    #[test]
    fn unique_names_are_kept_in_lower_case_or_refused() {
        assert_eq!(kept_name("Exo-App").unwrap(), "exo-app");
        assert!(kept_name("exo_app").is_err());
    }
}
