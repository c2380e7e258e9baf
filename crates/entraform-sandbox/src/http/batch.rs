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
        // Run parts whose dependencies have finished, in request order, until none remain; a
        // run of reads next to each other is served concurrently (Graph runs the parts of a
        // batch in any order unless `dependsOn` says otherwise), writes one at a time.
        while done.iter().any(|d| !d) {
            let mut progressed = false;
            let mut reads: Vec<usize> = Vec::new();
            for i in 0..parsed.len() {
                let p = &parsed[i];
                if done[i] {
                    continue;
                }
                if p.deps
                    .iter()
                    .any(|d| reads.iter().any(|&r| parsed[r].id == *d))
                {
                    self.batch_reads(
                        &parsed,
                        &mut reads,
                        caller,
                        ids,
                        &mut statuses,
                        &mut responses,
                    );
                }
                if !p.deps.iter().all(|d| statuses.contains_key(d)) {
                    continue;
                }
                progressed = true;
                done[i] = true;
                let started = std::time::Instant::now();
                let (path, query) = p.split_url();
                let part = if p
                    .deps
                    .iter()
                    .any(|d| statuses.get(d).is_some_and(|s| *s >= 400))
                {
                    self.render_error(
                        &GraphError::new(424, "FailedDependency", "The request could not be processed because a request it depends on failed."),
                        ids,
                    )
                } else if path.starts_with("/v1.0/")
                    || path.starts_with("/beta/")
                    || p.url.starts_with("http")
                {
                    self.render_error(&GraphError::bad_request("Batch request URLs must be relative to the version root, e.g. '/applications'."), ids)
                } else if path == "/$batch" {
                    self.render_error(
                        &GraphError::bad_request("Nested batch requests are not supported."),
                        ids,
                    )
                } else if p.method == "GET" && p.body.is_none() {
                    reads.push(i);
                    continue;
                } else {
                    self.batch_reads(
                        &parsed,
                        &mut reads,
                        caller,
                        ids,
                        &mut statuses,
                        &mut responses,
                    );
                    let bytes = p
                        .body
                        .as_ref()
                        .map(|b| serde_json::to_vec(b).expect("JSON serialises"))
                        .unwrap_or_default();
                    self.graph_one(
                        &p.method,
                        &path,
                        &Params::parse(query),
                        &p.headers,
                        &bytes,
                        caller,
                        ids,
                    )
                };
                self.batch_answered(p, i, part, started, &mut statuses, &mut responses);
            }
            self.batch_reads(
                &parsed,
                &mut reads,
                caller,
                ids,
                &mut statuses,
                &mut responses,
            );
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

impl Server {
    /// Serves the reads gathered in `reads` concurrently: throttled one by one in request
    /// order (so the same requests meet the same 429s), then each on a thread of its own
    /// sharing the tenant's read lock.
    fn batch_reads(
        &self,
        parsed: &[BatchPart],
        reads: &mut Vec<usize>,
        caller: &Caller,
        ids: &Ids,
        statuses: &mut BTreeMap<String, u16>,
        responses: &mut Vec<(usize, Value)>,
    ) {
        let now = self.time.now_ms();
        let admitted: Vec<Admission> = reads
            .drain(..)
            .map(|i| {
                let (path, query) = parsed[i].split_url();
                let params = Params::parse(query);
                let admitted = self
                    .throttle("GET", &path, &params, caller, now)
                    .map_err(|e| self.render_error(&e, ids));
                (i, params, admitted)
            })
            .collect();
        // The threads see the runtime's clock (virtual in tests) as the caller does.
        let runtime = tokio::runtime::Handle::try_current().ok();
        let serve = |(i, params, admitted): (usize, Params, Result<_, Part>)| {
            let _runtime = runtime.as_ref().map(|r| r.enter());
            let started = std::time::Instant::now();
            let p = &parsed[i];
            let part = match admitted {
                Ok(extra) => {
                    let (path, _) = p.split_url();
                    self.graph_admitted(
                        "GET",
                        &path,
                        &params,
                        &p.headers,
                        &[],
                        caller,
                        ids,
                        now,
                        extra,
                    )
                }
                Err(part) => part,
            };
            (i, part, started.elapsed())
        };
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, admitted.len().max(1));
        let mut shares: Vec<Vec<_>> = (0..workers).map(|_| Vec::new()).collect();
        for (k, read) in admitted.into_iter().enumerate() {
            shares[k % workers].push(read);
        }
        let mut served: Vec<(usize, Part, std::time::Duration)> = std::thread::scope(|scope| {
            let serve = &serve;
            let others: Vec<_> = shares
                .split_off(1)
                .into_iter()
                .map(|share| scope.spawn(move || share.into_iter().map(serve).collect::<Vec<_>>()))
                .collect();
            let mut served: Vec<_> = shares.into_iter().flatten().map(serve).collect();
            for other in others {
                served.extend(other.join().expect("a batch part"));
            }
            served
        });
        served.sort_by_key(|(i, _, _)| *i);
        for (i, part, elapsed) in served {
            let started = std::time::Instant::now() - elapsed;
            self.batch_answered(&parsed[i], i, part, started, statuses, responses);
        }
    }

    /// Counts, times and records one part's response.
    fn batch_answered(
        &self,
        p: &BatchPart,
        i: usize,
        part: Part,
        started: std::time::Instant,
        statuses: &mut BTreeMap<String, u16>,
        responses: &mut Vec<(usize, Value)>,
    ) {
        let (path, _) = p.split_url();
        let route = format!("{} /v1.0{}", p.method, route_template(&path));
        self.count(&route, &part.status.to_string());
        self.time(&route, started.elapsed(), false);
        statuses.insert(p.id.clone(), part.status);
        let mut h = Map::new();
        h.insert("Cache-Control".into(), json!("no-cache"));
        for (k, v) in &part.headers {
            h.insert(k.clone(), json!(v));
        }
        let mut entry = Map::new();
        entry.insert("id".into(), json!(p.id));
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
}

/// A read of a batch, its query, and its throttling verdict: the headers to add, or the 429.
type Admission = (usize, Params, Result<Vec<(String, String)>, Part>);

impl BatchPart {
    /// `(path with a leading /, query)`.
    fn split_url(&self) -> (String, &str) {
        let (path, query) = match self.url.split_once('?') {
            Some((p, q)) => (p, q),
            None => (self.url.as_str(), ""),
        };
        (format!("/{}", path.trim_start_matches('/')), query)
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
