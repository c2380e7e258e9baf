//! `POST /v1.0/$batch`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::stats::route_template;
use super::{GRAPH_CONTENT_TYPE, Ids, Part, Server};
use crate::errors::GraphError;
use crate::graph::{Caller, Headers};
use crate::odata::Params;

const MAX_BATCH: usize = 20;

impl Server {
    /// throttled and counted on its own.
    pub(super) fn batch(&self, caller: &Caller, headers: &Headers, body: &[u8], ids: &Ids) -> Part {
        let bad = |msg: &str| self.render_error(&GraphError::new(400, "BadRequest", msg), ids);
        if !headers
            .get("Content-Type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
        {
            return bad("Write request id : Content-Type must be application/json.");
        }
        let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(body) else {
            return bad("Invalid batch payload format.");
        };
        let Some(Value::Array(requests)) = root.get("requests") else {
            return bad("Invalid batch payload format.");
        };
        if requests.is_empty() {
            return bad("Invalid batch payload format.");
        }
        if requests.len() > MAX_BATCH {
            return bad(&format!(
                "The number of requests in a batch cannot exceed {MAX_BATCH}."
            ));
        }
        let mut parsed = Vec::new();
        for r in requests {
            let id = r["id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| r["id"].as_i64().map(|n| n.to_string()));
            let (Some(id), Some(method), Some(url)) = (id, r["method"].as_str(), r["url"].as_str())
            else {
                return bad("Invalid batch payload format.");
            };
            if parsed.iter().any(|p: &BatchPart| p.id == id) {
                return bad("Batch request ids must be unique.");
            }
            let deps: Vec<String> = r["dependsOn"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|d| d.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            for d in &deps {
                if !requests
                    .iter()
                    .any(|x| x["id"].as_str() == Some(d.as_str()))
                {
                    return bad(&format!(
                        "Request id '{d}' in dependsOn does not exist in the batch."
                    ));
                }
            }
            let part_headers = Headers(
                r["headers"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                            .collect()
                    })
                    .unwrap_or_default(),
            );
            let part_body = r.get("body").filter(|b| !b.is_null()).cloned();
            if part_body.is_some() && part_headers.get("Content-Type").is_none() {
                return bad(&format!(
                    "Write request id : {id}, Content-Type header must be specified for a request with a body."
                ));
            }
            parsed.push(BatchPart {
                id,
                method: method.to_ascii_uppercase(),
                url: url.to_string(),
                deps,
                headers: part_headers,
                body: part_body,
            });
        }
        let mut statuses: BTreeMap<String, u16> = BTreeMap::new();
        let mut responses: Vec<(usize, Value)> = Vec::new();
        let mut done = vec![false; parsed.len()];
        // Run parts whose dependencies have finished, in request order, until none remain.
        while done.iter().any(|d| !d) {
            let mut progressed = false;
            for (i, p) in parsed.iter().enumerate() {
                let BatchPart {
                    id,
                    method,
                    url,
                    deps,
                    headers: part_headers,
                    body: part_body,
                } = p;
                if done[i] || !deps.iter().all(|d| statuses.contains_key(d)) {
                    continue;
                }
                progressed = true;
                done[i] = true;
                let (path, query) = match url.split_once('?') {
                    Some((p, q)) => (p, q),
                    None => (url.as_str(), ""),
                };
                let path = format!("/{}", path.trim_start_matches('/'));
                let route = format!("{method} /v1.0{}", route_template(&path));
                let started = std::time::Instant::now();
                let part = if deps
                    .iter()
                    .any(|d| statuses.get(d).is_some_and(|s| *s >= 400))
                {
                    self.render_error(
                        &GraphError::new(424, "FailedDependency", "The request could not be processed because a request it depends on failed."),
                        ids,
                    )
                } else if path.starts_with("/v1.0/")
                    || path.starts_with("/beta/")
                    || url.starts_with("http")
                {
                    self.render_error(&GraphError::bad_request("Batch request URLs must be relative to the version root, e.g. '/applications'."), ids)
                } else if path == "/$batch" {
                    self.render_error(
                        &GraphError::bad_request("Nested batch requests are not supported."),
                        ids,
                    )
                } else {
                    let bytes = part_body
                        .as_ref()
                        .map(|b| serde_json::to_vec(b).expect("JSON serialises"))
                        .unwrap_or_default();
                    self.graph_one(
                        method,
                        &path,
                        &Params::parse(query),
                        part_headers,
                        &bytes,
                        caller,
                        ids,
                    )
                };
                self.count(&route, &part.status.to_string());
                self.time(&route, started.elapsed(), false);
                statuses.insert(id.clone(), part.status);
                let mut h = Map::new();
                h.insert("Cache-Control".into(), json!("no-cache"));
                for (k, v) in &part.headers {
                    h.insert(k.clone(), json!(v));
                }
                let mut entry = Map::new();
                entry.insert("id".into(), json!(id));
                entry.insert("status".into(), json!(part.status));
                if part.body.is_some() {
                    h.insert("Content-Type".into(), json!(GRAPH_CONTENT_TYPE));
                    h.insert("OData-Version".into(), json!("4.0"));
                }
                entry.insert("headers".into(), Value::Object(h));
                if let Some(b) = part.body {
                    entry.insert("body".into(), b);
                } else if let Some(t) = part.text {
                    entry.insert("body".into(), json!(t));
                }
                responses.push((i, Value::Object(entry)));
            }
            if !progressed {
                return bad("The dependsOn graph of the batch has a cycle.");
            }
        }
        responses.sort_by_key(|(i, _)| *i);
        Part {
            status: 200,
            headers: Vec::new(),
            body: Some(
                json!({ "responses": responses.into_iter().map(|(_, v)| v).collect::<Vec<_>>() }),
            ),
            text: None,
        }
    }
}

/// One request of a `$batch`, validated.
struct BatchPart {
    id: String,
    method: String,
    url: String,
    deps: Vec<String>,
    headers: Headers,
    body: Option<Value>,
}
