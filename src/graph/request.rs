//! A Graph request described, not sent: method, path, query, headers, body, and how safe it is to
//! send twice. [`super::api`] builds every request entraform makes; [`super::GraphClient`] sends
//! one alone ([`send`](super::GraphClient::send), [`fetch`](super::GraphClient::fetch),
//! [`list`](super::GraphClient::list)) or packs several into `$batch`es
//! ([`batch`](super::GraphClient::batch), [`batch_list`](super::GraphClient::batch_list)); both
//! read the same description, so a header or body cannot be lost on one of the two paths.

use std::fmt;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::retry::RetrySafety;

/// `Prefer: create-if-missing`, which turns `PATCH …(uniqueName='x')` into an upsert.
pub const CREATE_IF_MISSING: (&str, &str) = ("Prefer", "create-if-missing");
/// `ConsistencyLevel: eventual`, for advanced queries (`$count`, `$search`, `ne`, `endsWith`).
pub const EVENTUAL_CONSISTENCY: (&str, &str) = ("ConsistencyLevel", "eventual");

/// One Graph request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// After `/v1.0` and without the query (`/applications(uniqueName='x')`), or an absolute
    /// `@odata.nextLink`, which carries its own query.
    pub path: String,
    pub query: Query,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub safety: RetrySafety,
    /// Inside a `$batch` only: the index (in the same input) of a request that must succeed
    /// first (`dependsOn`); the two are kept in the same `$batch`.
    pub depends_on: Option<usize>,
}

/// The request's OData query options, in the order they are written (`$filter`, `$select`,
/// `$expand`, `$top`). Values go out as given: filter literals come from [`super::quote`], which
/// already escapes what a URL would misread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<String>);

impl Query {
    /// A query from its text (`$filter=…&$select=…`), one option per `&`-separated part, kept
    /// exactly as written.
    pub fn parse(text: &str) -> Self {
        Query(
            text.split('&')
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `$filter=…`, for an already built filter expression.
    pub fn filter(self, filter: &str) -> Self {
        self.with("$filter", filter)
    }

    /// `$select=a,b`.
    pub fn select(self, fields: &str) -> Self {
        self.with("$select", fields)
    }

    /// `$expand=relationship`.
    pub fn expand(self, relationship: &str) -> Self {
        self.with("$expand", relationship)
    }

    fn with(mut self, option: &str, value: &str) -> Self {
        self.0.push(format!("{option}={value}"));
        self
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("&"))
    }
}

impl Request {
    /// A `GET`. `path_and_query` may carry a query (`/applications?$select=id`) or be an
    /// absolute next link.
    pub fn get(path_and_query: impl Into<String>) -> Self {
        Self::new(Method::GET, path_and_query, None, RetrySafety::Idempotent)
    }

    pub fn post(path: impl Into<String>, body: Value, safety: RetrySafety) -> Self {
        Self::new(Method::POST, path, Some(body), safety)
    }

    pub fn patch(path: impl Into<String>, body: Value, safety: RetrySafety) -> Self {
        Self::new(Method::PATCH, path, Some(body), safety)
    }

    /// `PATCH` with `Prefer: create-if-missing` (an upsert by alternate key).
    pub fn upsert(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::PATCH, path, Some(body), RetrySafety::Upsert)
            .with_header(CREATE_IF_MISSING.0, CREATE_IF_MISSING.1)
    }

    pub fn delete(path: impl Into<String>, safety: RetrySafety) -> Self {
        Self::new(Method::DELETE, path, None, safety)
    }

    /// A request of any method, without a body.
    pub fn bodiless(method: Method, path: impl Into<String>, safety: RetrySafety) -> Self {
        Self::new(method, path, None, safety)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds query options after any the path already carried.
    pub fn with_query(mut self, query: Query) -> Self {
        self.query.0.extend(query.0);
        self
    }

    /// Runs only after the request at `index` in the same `$batch` input succeeded.
    pub fn after(mut self, index: usize) -> Self {
        self.depends_on = Some(index);
        self
    }

    /// A page of the list this request reads (`link`: its own path with a page size, or a next
    /// link), with the same headers.
    pub(crate) fn page(&self, link: String) -> Request {
        Request {
            headers: self.headers.clone(),
            ..Request::get(link)
        }
    }

    /// The path with its query, as sent: `/applications?$filter=…`.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    fn new(
        method: Method,
        path_and_query: impl Into<String>,
        body: Option<Value>,
        safety: RetrySafety,
    ) -> Self {
        let text = path_and_query.into();
        let absolute = text.starts_with("http://") || text.starts_with("https://");
        let (path, query) = match text.split_once('?') {
            Some((path, query)) if !absolute => (path.to_owned(), Query::parse(query)),
            _ => (text, Query::default()),
        };
        Request {
            method,
            path,
            query,
            headers: Vec::new(),
            body,
            safety,
            depends_on: None,
        }
    }
}

/// One line per request, as the apply mapping's golden tests show them: method, path with
/// query, headers, then the JSON body.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path_and_query())?;
        for (k, v) in &self.headers {
            write!(f, " [{k}: {v}]")?;
        }
        if let Some(body) = &self.body {
            write!(f, " {body}")?;
        }
        Ok(())
    }
}

/// A typed write body as the JSON a [`Request`] carries.
///
/// Bodies are entraform's own plain structs (strings, GUIDs, RFC 3339 dates of certificates,
/// whose years X.509 keeps within 0000–9999), so encoding them cannot fail.
pub fn body(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("request bodies are plain data that always encode")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_with_a_query_keeps_every_option_in_order() {
        let r = Request::get("/applications?$filter=appId in ('a','b')&$select=id&$top=5");
        assert_eq!(r.path, "/applications");
        assert_eq!(
            r.path_and_query(),
            "/applications?$filter=appId in ('a','b')&$select=id&$top=5"
        );
        let typed = Request::get("/applications")
            .with_query(Query::default().filter("appId in ('a','b')").select("id"));
        assert_eq!(
            typed.path_and_query(),
            "/applications?$filter=appId in ('a','b')&$select=id"
        );
    }

    #[test]
    fn a_next_link_is_kept_whole() {
        let link = "https://graph.microsoft.com/v1.0/applications?$skiptoken=x&$top=2";
        let r = Request::get(link);
        assert_eq!(r.path, link);
        assert!(r.query.is_empty());
        assert_eq!(r.path_and_query(), link);
    }

    #[test]
    fn an_upsert_says_create_if_missing() {
        let r = Request::upsert("/applications(uniqueName='x')", serde_json::json!({}));
        assert_eq!(
            r.to_string(),
            "PATCH /applications(uniqueName='x') [Prefer: create-if-missing] {}"
        );
        assert_eq!(r.safety, RetrySafety::Upsert);
    }
}
