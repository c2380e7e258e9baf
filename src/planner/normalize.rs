//! What counts as "the same" between a manifest and Graph: Graph's own defaults and
//! normalisations never show as changes. GUID case is handled once, by the id types.

use std::collections::BTreeSet;

use crate::model::{MANAGED_BY_TAG, PROTECTED_TAG, SignInAudience};

/// An empty description and no description are the same to Graph and to people.
pub fn description(value: Option<&str>) -> Option<&str> {
    value.filter(|d| !d.is_empty())
}

/// Graph keeps or adds a trailing slash on a bare origin depending on the client that wrote
/// it; `https://x/` and `https://x` are one redirect URI for comparison.
pub fn redirect_uri(uri: &str) -> &str {
    match uri.strip_suffix('/') {
        Some(rest) if rest.contains("://") && !rest.ends_with('/') && !rest.ends_with(':') => rest,
        _ => uri,
    }
}

pub fn redirect_uri_set<'a>(uris: impl IntoIterator<Item = &'a String>) -> BTreeSet<&'a str> {
    uris.into_iter().map(|u| redirect_uri(u)).collect()
}

/// Graph returns `signInAudience` as written; compare without regard to case.
pub fn same_audience(live: &str, wanted: SignInAudience) -> bool {
    live.eq_ignore_ascii_case(wanted.as_str())
}

/// entraform's own tags, which the user's `tags` never include.
pub fn is_own_tag(tag: &str) -> bool {
    tag == MANAGED_BY_TAG || tag == PROTECTED_TAG
}

/// The user's tags on a live app: all tags but entraform's own.
pub fn user_tags(tags: &[String]) -> BTreeSet<String> {
    tags.iter().filter(|t| !is_own_tag(t)).cloned().collect()
}

/// A delegated grant's `scope` ("A B  C") as a set.
pub fn scope_set(scope: &str) -> BTreeSet<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_slash_does_not_make_another_redirect_uri() {
        assert_eq!(
            redirect_uri("https://app.example.com/"),
            "https://app.example.com"
        );
        assert_eq!(
            redirect_uri("https://app.example.com/cb/"),
            "https://app.example.com/cb"
        );
        assert_eq!(
            redirect_uri("https://app.example.com"),
            "https://app.example.com"
        );
        // Nothing is left to compare after stripping, or the slash is the whole path of a
        // double slash: keep as written.
        assert_eq!(redirect_uri("https://"), "https://");
        assert_eq!(redirect_uri("ms-app://x//"), "ms-app://x//");
        let live = vec!["https://a/".to_owned(), "https://b".to_owned()];
        let wanted = vec!["https://b/".to_owned(), "https://a".to_owned()];
        assert_eq!(redirect_uri_set(&live), redirect_uri_set(&wanted));
    }

    #[test]
    fn empty_and_absent_descriptions_are_equal() {
        assert_eq!(description(Some("")), None);
        assert_eq!(description(None), None);
        assert_eq!(description(Some("x")), Some("x"));
    }

    #[test]
    fn audiences_compare_without_case_and_own_tags_are_set_apart() {
        assert!(same_audience("azureadmyorg", SignInAudience::AzureADMyOrg));
        assert!(!same_audience(
            "AzureADMultipleOrgs",
            SignInAudience::AzureADMyOrg
        ));
        let tags = vec![
            MANAGED_BY_TAG.to_owned(),
            "team:identity".to_owned(),
            PROTECTED_TAG.to_owned(),
        ];
        assert_eq!(
            user_tags(&tags).into_iter().collect::<Vec<_>>(),
            ["team:identity"]
        );
        assert_eq!(scope_set(" User.Read  Mail.Send ").len(), 2);
    }
}
