//! Pure helpers for reading collections cheaply: the largest page size a collection allows, and
//! `in (…)` filters packed to Graph's 15-value limit so many objects cost few requests.

/// Collections documented to take `$top` up to 999 (default 100).
const TOP_999: &[&str] = &["applications", "serviceprincipals", "users", "groups"];

/// Adds `$top=999` to a list of a collection that allows it, unless a `$top` is already there
/// or the list `$expand`s a relationship: Graph pages at most 100 parents with `$expand`, so it
/// is left at its default of 100. Next links are left alone: they carry their own paging.
pub fn with_page_size(path_and_query: &str) -> String {
    if path_and_query.starts_with("http://") || path_and_query.starts_with("https://") {
        return path_and_query.to_owned();
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let collection = path.trim_matches('/').to_ascii_lowercase();
    let has = |option: &str| {
        query.is_some_and(|q| {
            q.split('&').any(|kv| {
                kv.split('=').next().is_some_and(|k| {
                    k.eq_ignore_ascii_case(option)
                        || k.eq_ignore_ascii_case(&option.replace('$', "%24"))
                })
            })
        })
    };
    if !TOP_999.contains(&collection.as_str()) || has("$top") || has("$expand") {
        return path_and_query.to_owned();
    }
    match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}&$top=999"),
        _ => format!("{path}?$top=999"),
    }
}

/// An OData string literal (`'it''s'`) ready to sit in a URL: the characters a URL would
/// misread are percent-encoded (`#` would start the fragment, `&` a new parameter, `+` would
/// read as a space, `%` as an escape), so a guest's `…#EXT#@…` UPN or an API named `R&D`
/// reaches Graph whole.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '#' => out.push_str("%23"),
            '&' => out.push_str("%26"),
            '+' => out.push_str("%2B"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Graph's limit on values in one `in (…)` filter clause without advanced queries.
pub const IN_FILTER_LIMIT: usize = 15;

/// `property in ('a','b',…)` filters, each with at most [`IN_FILTER_LIMIT`] values, covering
/// every value once (duplicates dropped, first occurrence order kept).
pub fn in_filters(property: &str, values: &[impl AsRef<str>]) -> Vec<String> {
    in_filter_chunks(property, values)
        .into_iter()
        .map(|(filter, _)| filter)
        .collect()
}

/// [`in_filters`], each with the positions in `values` it answers for (a duplicate with its
/// first occurrence): what a progress count needs to know which objects a finished list covers.
pub fn in_filter_chunks(property: &str, values: &[impl AsRef<str>]) -> Vec<(String, Vec<usize>)> {
    let mut first: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut unique: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let v = v.as_ref();
        match first.entry(v.to_ascii_lowercase()) {
            std::collections::hash_map::Entry::Occupied(e) => unique[*e.get()].1.push(i),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(unique.len());
                unique.push((v, vec![i]));
            }
        }
    }
    unique
        .chunks(IN_FILTER_LIMIT)
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(|(v, _)| quote(v)).collect();
            let covers = chunk
                .iter()
                .flat_map(|(_, at)| at.iter().copied())
                .collect();
            (format!("{property} in ({})", list.join(",")), covers)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_pages_are_asked_for_where_the_collection_allows_them() {
        assert_eq!(with_page_size("/applications"), "/applications?$top=999");
        assert_eq!(
            with_page_size("/servicePrincipals?$filter=tags/any(t:t eq 'x')"),
            "/servicePrincipals?$filter=tags/any(t:t eq 'x')&$top=999"
        );
        assert_eq!(
            with_page_size("/applications?$top=5"),
            "/applications?$top=5"
        );
        // With `$expand`, Graph pages 100 parents at most: no `$top=999`.
        for path in [
            "/applications?$filter=id in ('1')&$select=id&$expand=owners",
            "/servicePrincipals?%24expand=appRoleAssignments",
        ] {
            assert_eq!(with_page_size(path), path);
        }
        // Page size is not documented for these: leave them to Graph's default.
        for path in [
            "/servicePrincipals/1/appRoleAssignedTo",
            "/roleManagement/directory/roleAssignments",
            "/applications/1/owners",
        ] {
            assert_eq!(with_page_size(path), path);
        }
        let next = "https://graph.microsoft.com/v1.0/applications?$skiptoken=x";
        assert_eq!(with_page_size(next), next);
    }

    #[test]
    fn in_filters_hold_at_most_fifteen_values_each_and_cover_all_once() {
        let ids: Vec<String> = (0..40).map(|i| format!("id{i}")).collect();
        let filters = in_filters("appId", &ids);
        assert_eq!(filters.len(), 3);
        assert!(filters[0].starts_with("appId in ('id0','id1',"));
        let total: usize = filters.iter().map(|f| f.matches('\'').count() / 2).sum();
        assert_eq!(total, 40);
        assert_eq!(in_filters("appId", &["a", "A", "b"]).len(), 1);
        assert_eq!(
            in_filters("appId", &["a", "A", "b"])[0],
            "appId in ('a','b')"
        );
    }

    #[test]
    fn each_filter_knows_which_values_it_answers_for() {
        let mut values: Vec<String> = (0..16).map(|i| format!("v{i}")).collect();
        values.push("V3".into());
        let chunks = in_filter_chunks("uniqueName", &values);
        assert_eq!(chunks.len(), 2);
        // The duplicate of v3 is answered by the filter that asks for v3.
        assert_eq!(
            chunks[0].1,
            [0, 1, 2, 3, 16, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
        );
        assert_eq!(chunks[1], ("uniqueName in ('v15')".to_owned(), vec![15]));
    }

    #[test]
    fn quotes_in_values_are_doubled() {
        assert_eq!(quote("it's"), "'it''s'");
    }

    #[test]
    fn characters_a_url_would_misread_are_escaped() {
        assert_eq!(
            quote("guest_contoso.com#EXT#@fabrikam.onmicrosoft.com"),
            "'guest_contoso.com%23EXT%23@fabrikam.onmicrosoft.com'"
        );
        assert_eq!(quote("R&D + Ops 100%"), "'R%26D %2B Ops 100%25'");
    }
}
