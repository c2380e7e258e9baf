//! `$batch`: up to 20 requests per HTTP call, groups sent concurrently within the client's bound,
//! throttled or unavailable parts sent again after the longest `Retry-After`, results returned in
//! input order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::client::GraphClient;
use super::error::{GraphError, HttpError, decode_json};
use super::paging::with_page_size;
use super::request::Request;
use super::retry::{self, Attempt, RetrySafety, Verdict};
use super::types::Page;

/// Graph's limit on parts in one `$batch`.
pub const BATCH_LIMIT: usize = 20;

/// A request inside a `$batch`: the same description a single send takes, with
/// [`Request::after`] for `dependsOn`.
pub type BatchRequest = Request;

/// A part's successful answer.
#[derive(Debug, Clone)]
pub struct BatchResponse {
    pub status: u16,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    /// The body's JSON text as the `$batch` answer carried it: decoded once, straight into what
    /// the caller wants (a tree of `Value`s per part would be several times its size).
    pub body: Option<Box<RawValue>>,
}

impl BatchResponse {
    pub fn created(&self) -> bool {
        self.status == 201
    }

    /// The body as `T`, with the JSON path of any mismatch.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        let text = self.body.as_deref().map_or("null", RawValue::get);
        decode_json(text.as_bytes(), &self.method, &self.path)
    }

    /// Whether the body names a next page.
    fn has_next_link(&self) -> bool {
        #[derive(serde::Deserialize)]
        struct NextLink {
            #[serde(rename = "@odata.nextLink")]
            next_link: Option<serde::de::IgnoredAny>,
        }
        self.body
            .as_deref()
            .and_then(|b| serde_json::from_str::<NextLink>(b.get()).ok())
            .is_some_and(|p| p.next_link.is_some())
    }
}

/// A part's result: its answer, or the error it ended with.
pub type BatchOutcome = Result<BatchResponse, GraphError>;

/// Splits `pending` (indices into `requests`) into groups of at most [`BATCH_LIMIT`], keeping
/// each request with the pending requests it depends on (Graph resolves `dependsOn` only within
/// one `$batch`). Input order is kept inside each group.
pub fn plan_groups(
    requests: &[BatchRequest],
    pending: &[usize],
) -> Result<Vec<Vec<usize>>, GraphError> {
    let is_pending = |i: usize| pending.binary_search(&i).is_ok();
    // Union-find over dependsOn edges among pending requests.
    let mut parent: BTreeMap<usize, usize> = pending.iter().map(|&i| (i, i)).collect();
    fn root(parent: &mut BTreeMap<usize, usize>, mut i: usize) -> usize {
        while parent[&i] != i {
            let up = parent[&parent[&i]];
            parent.insert(i, up);
            i = up;
        }
        i
    }
    for &i in pending {
        if let Some(dep) = requests[i].depends_on
            && is_pending(dep)
        {
            let (a, b) = (root(&mut parent, i), root(&mut parent, dep));
            parent.insert(a.max(b), a.min(b));
        }
    }
    let mut components: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in pending {
        let r = root(&mut parent, i);
        components.entry(r).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (_, component) in components {
        if component.len() > BATCH_LIMIT {
            return Err(GraphError::config(
                format!(
                    "{} batch requests depend on each other; a $batch holds at most {BATCH_LIMIT}",
                    component.len()
                ),
                None,
            ));
        }
        match groups.last_mut() {
            Some(last) if last.len() + component.len() <= BATCH_LIMIT => {
                last.extend(component);
                last.sort_unstable();
            }
            _ => groups.push(component),
        }
    }
    Ok(groups)
}

#[derive(Deserialize)]
struct WireResponses {
    responses: Vec<WirePart>,
}

#[derive(Deserialize)]
struct WirePart {
    id: String,
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Box<RawValue>>,
}

/// How one part of one round ended.
enum PartResult {
    Done(BatchOutcome),
    /// Transient: send again; the error stands if retries run out.
    Again {
        wait: Option<Duration>,
        throttled: bool,
        error: Box<HttpError>,
    },
}

impl GraphClient {
    /// Sends `requests` as `$batch`es of up to 20 and returns one outcome per request, in input
    /// order. Parts answered 429/503/504 (and 424 parts whose dependency is being retried) are
    /// sent again after the longest `Retry-After`, within the retry policy's bounds. An error
    /// for the whole call means nothing was sent (bad `dependsOn`).
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchOutcome>, GraphError> {
        self.batch_reporting(requests, &|_, _| {}).await
    }

    /// [`Self::batch`], calling `answered` with each part's index and outcome as soon as its
    /// `$batch` comes back (not when the last one does), for a progress count.
    pub async fn batch_reporting(
        &self,
        requests: Vec<BatchRequest>,
        answered: &(dyn Fn(usize, &BatchOutcome) + Send + Sync),
    ) -> Result<Vec<BatchOutcome>, GraphError> {
        for (i, r) in requests.iter().enumerate() {
            if let Some(dep) = r.depends_on
                && dep >= i
            {
                return Err(GraphError::config(
                    format!(
                        "batch request {i} depends on request {dep}, which does not come before it"
                    ),
                    None,
                ));
            }
        }
        let policy = self.config().retry;
        let started = Instant::now();
        let mut outcomes: Vec<Option<BatchOutcome>> = (0..requests.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let mut round = 0u32;
        while !pending.is_empty() {
            round += 1;
            let groups = plan_groups(&requests, &pending)?;
            let sends = groups.iter().map(|group| {
                let (requests, pending) = (&requests, &pending);
                async move {
                    let result = self.send_group(requests, group, pending).await;
                    for (&i, part) in group.iter().zip(&result) {
                        if let PartResult::Done(outcome) = part {
                            answered(i, outcome);
                        }
                    }
                    result
                }
            });
            let results = futures_util::future::join_all(sends).await;

            let mut again: Vec<(usize, Box<HttpError>)> = Vec::new();
            let mut longest: Option<Duration> = None;
            let mut throttled = false;
            for (group, result) in groups.iter().zip(results) {
                for (&i, part) in group.iter().zip(result) {
                    match part {
                        PartResult::Done(outcome) => outcomes[i] = Some(outcome),
                        PartResult::Again {
                            wait,
                            throttled: t,
                            error,
                        } => {
                            throttled |= t;
                            longest = longest.max(wait);
                            again.push((i, error));
                        }
                    }
                }
            }
            if !throttled {
                self.not_throttled();
            }
            if again.is_empty() {
                break;
            }
            let wait = if throttled {
                self.throttled(longest)
            } else {
                longest.unwrap_or_else(|| retry::backoff(&policy, round, rand::random()))
            };
            // Throttling is bounded by time alone, as for single requests.
            let out_of_budget = (round >= policy.max_attempts && !throttled)
                || started.elapsed().saturating_add(wait) > policy.max_elapsed;
            if out_of_budget {
                for (i, mut error) in again {
                    error.attempts = round;
                    outcomes[i] = Some(Err(GraphError::Http(error)));
                }
                break;
            }
            self.count_retries(again.len() as u64);
            tracing::debug!(
                parts = again.len(),
                wait_ms = wait.as_millis() as u64,
                round,
                "retrying batch parts"
            );
            tokio::time::sleep(wait).await;
            pending = again.into_iter().map(|(i, _)| i).collect();
            pending.sort_unstable();
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(GraphError::config("a batch part was never answered", None))
                })
            })
            .collect())
    }

    /// One `$batch` call for `group`; a part's `dependsOn` is sent only when its dependency is
    /// in this round too (one that already succeeded needs no waiting for).
    async fn send_group(
        &self,
        requests: &[BatchRequest],
        group: &[usize],
        pending: &[usize],
    ) -> Vec<PartResult> {
        let endpoints = self.endpoints();
        let mut parts = Vec::with_capacity(group.len());
        let mut paths = Vec::with_capacity(group.len());
        let mut client_ids = Vec::with_capacity(group.len());
        for &i in group {
            let r = &requests[i];
            let url = match endpoints.resolve(&r.path_and_query()) {
                Ok(url) => url,
                Err(e) => return all_failed(group, e),
            };
            let path = endpoints.relative(&url);
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let mut headers = serde_json::Map::new();
            headers.insert("client-request-id".into(), client_request_id.clone().into());
            for (k, v) in &r.headers {
                headers.insert(k.clone(), v.clone().into());
            }
            let mut part = serde_json::json!({
                "id": i.to_string(),
                "method": r.method.as_str(),
                "url": path,
            });
            if let Some(body) = &r.body {
                headers
                    .entry("Content-Type")
                    .or_insert_with(|| "application/json".into());
                part["body"] = body.clone();
            }
            part["headers"] = serde_json::Value::Object(headers);
            if let Some(dep) = r.depends_on
                && pending.binary_search(&dep).is_ok()
            {
                part["dependsOn"] = serde_json::json!([dep.to_string()]);
            }
            parts.push(part);
            paths.push(path);
            client_ids.push(client_request_id);
        }
        let safety = group
            .iter()
            .map(|&i| requests[i].safety)
            .fold(RetrySafety::Idempotent, weakest);
        let body =
            serde_json::to_vec(&serde_json::json!({ "requests": parts })).unwrap_or_default();
        let response = self
            .execute(
                Method::POST,
                "/$batch",
                &[],
                Some(body),
                safety,
                group.len() as u64,
            )
            .await
            .and_then(|r| r.json::<WireResponses>());
        let wire = match response {
            Ok(wire) => wire,
            Err(e) => return all_failed(group, e),
        };
        let mut by_id: BTreeMap<String, WirePart> = wire
            .responses
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();

        // In index order, so a 424 knows whether its dependency is being retried.
        let mut retried: Vec<usize> = Vec::new();
        let mut results = Vec::with_capacity(group.len());
        for (n, &i) in group.iter().enumerate() {
            let r = &requests[i];
            let Some(part) = by_id.remove(&i.to_string()) else {
                results.push(PartResult::Done(Err(GraphError::config(
                    format!(
                        "the $batch answer has no response for {} {}",
                        r.method, paths[n]
                    ),
                    None,
                ))));
                continue;
            };
            let header = |name: &str| {
                part.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            self.count_resource_units(header("x-ms-resource-unit").as_deref());
            if (200..300).contains(&part.status) {
                results.push(PartResult::Done(Ok(BatchResponse {
                    status: part.status,
                    method: r.method.to_string(),
                    path: paths[n].clone(),
                    // Moved, not copied: a page of 15 applications is a large tree.
                    headers: part.headers,
                    body: part.body,
                })));
                continue;
            }
            let mut error = HttpError::from_body(
                r.method.as_str(),
                &paths[n],
                part.status,
                part.body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<serde_json::Value>(b.get()).ok())
                    .as_ref(),
                header("request-id"),
                Some(client_ids[n].clone()),
            );
            error.in_batch = true;
            let retry_after = header("retry-after")
                .and_then(|v| retry::parse_retry_after(&v, std::time::SystemTime::now()));
            if part.status == 429 {
                self.count_throttled(1);
            }
            let dependency_retried =
                part.status == 424 && r.depends_on.is_some_and(|d| retried.contains(&d));
            let transient = retry::verdict(
                Attempt::Status {
                    status: part.status,
                    retry_after,
                },
                r.safety,
            ) == Verdict::Retry;
            if transient || dependency_retried {
                retried.push(i);
                results.push(PartResult::Again {
                    wait: retry_after,
                    throttled: part.status == 429,
                    error: Box::new(error),
                });
            } else {
                results.push(PartResult::Done(Err(GraphError::Http(Box::new(error)))));
            }
        }
        results
    }

    /// Lists several collections at once: the first pages go out in `$batch`es, then each
    /// part's `@odata.nextLink` is followed (again batched) until every list is complete.
    /// One result per request, in input order; each request's headers (e.g. `ConsistencyLevel`)
    /// go with every page of its list.
    pub async fn batch_list<T: DeserializeOwned>(
        &self,
        lists: &[Request],
    ) -> Result<Vec<Result<Vec<T>, GraphError>>, GraphError> {
        self.batch_list_reporting(lists, &|_| {}).await
    }

    /// [`Self::batch_list`], calling `finished` with a list's index as soon as its last page
    /// (or its error) comes back.
    pub async fn batch_list_reporting<T: DeserializeOwned>(
        &self,
        lists: &[Request],
        finished: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Vec<Result<Vec<T>, GraphError>>, GraphError> {
        let mut items: Vec<Vec<T>> = lists.iter().map(|_| Vec::new()).collect();
        let mut errors: Vec<Option<GraphError>> = lists.iter().map(|_| None).collect();
        let mut next: Vec<Option<String>> = lists
            .iter()
            .map(|r| Some(with_page_size(&r.path_and_query())))
            .collect();
        loop {
            let active: Vec<usize> = (0..lists.len()).filter(|&i| next[i].is_some()).collect();
            if active.is_empty() {
                break;
            }
            let requests = active
                .iter()
                .map(|&i| lists[i].page(next[i].clone().unwrap_or_default()))
                .collect();
            let last_page = |part: usize, outcome: &BatchOutcome| {
                let more = outcome.as_ref().is_ok_and(BatchResponse::has_next_link);
                if !more {
                    finished(active[part]);
                }
            };
            let outcomes = self.batch_reporting(requests, &last_page).await?;
            for (&i, outcome) in active.iter().zip(outcomes) {
                let previous = next[i].take();
                match outcome.and_then(|r| r.json::<Page<T>>()) {
                    Ok(page) => {
                        items[i].extend(page.value);
                        if page.next_link.is_some() && page.next_link == previous {
                            errors[i] = Some(GraphError::config(
                                format!(
                                    "Graph returned the same next link twice while listing `{}`",
                                    lists[i].path_and_query()
                                ),
                                None,
                            ));
                        } else {
                            next[i] = page.next_link;
                        }
                    }
                    Err(e) => errors[i] = Some(e),
                }
            }
        }
        Ok(items
            .into_iter()
            .zip(errors)
            .map(|(items, error)| match error {
                Some(e) => Err(e),
                None => Ok(items),
            })
            .collect())
    }

    /// [`Self::batch_list`] of paths, each sent with `headers`.
    pub async fn batch_list_all<T: DeserializeOwned>(
        &self,
        paths: &[String],
        headers: &[(&str, &str)],
    ) -> Result<Vec<Result<Vec<T>, GraphError>>, GraphError> {
        let lists: Vec<Request> = paths
            .iter()
            .map(|p| {
                headers
                    .iter()
                    .fold(Request::get(p.as_str()), |r, (k, v)| r.with_header(k, v))
            })
            .collect();
        self.batch_list(&lists).await
    }
}

/// Every part of `group` ends with the one error that stopped the whole `$batch` call.
fn all_failed(group: &[usize], error: GraphError) -> Vec<PartResult> {
    let shared = Arc::new(error);
    group
        .iter()
        .map(|_| PartResult::Done(Err(GraphError::Shared(shared.clone()))))
        .collect()
}

/// The least safe of two classes: a `$batch` is only as repeatable as its least repeatable part.
fn weakest(a: RetrySafety, b: RetrySafety) -> RetrySafety {
    use RetrySafety::*;
    match (a, b) {
        (NotIdempotent, _) | (_, NotIdempotent) => NotIdempotent,
        (Upsert, _) | (_, Upsert) => Upsert,
        _ => Idempotent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gets(n: usize) -> Vec<BatchRequest> {
        (0..n)
            .map(|i| BatchRequest::get(format!("/applications/{i}")))
            .collect()
    }

    #[test]
    fn requests_are_split_into_groups_of_twenty_in_order() {
        let requests = gets(45);
        let all: Vec<usize> = (0..45).collect();
        let groups = plan_groups(&requests, &all).unwrap();
        assert_eq!(
            groups.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![20, 20, 5]
        );
        assert_eq!(groups.concat(), all);
    }

    #[test]
    fn a_request_stays_in_the_same_batch_as_its_dependency() {
        let mut requests = gets(21);
        // 19 independent requests, then a pair: the pair must not straddle the boundary.
        requests[20] = requests[20].clone().after(19);
        let all: Vec<usize> = (0..21).collect();
        let groups = plan_groups(&requests, &all).unwrap();
        assert!(groups.iter().any(|g| g.contains(&19) && g.contains(&20)));
        assert!(groups.iter().all(|g| g.len() <= BATCH_LIMIT));
        let mut seen = groups.concat();
        seen.sort_unstable();
        assert_eq!(seen, all);
    }

    #[test]
    fn a_dependency_chain_longer_than_a_batch_is_refused() {
        let requests: Vec<BatchRequest> = (0..21)
            .map(|i| {
                let r = BatchRequest::get(format!("/x/{i}"));
                if i > 0 { r.after(i - 1) } else { r }
            })
            .collect();
        let all: Vec<usize> = (0..21).collect();
        assert!(plan_groups(&requests, &all).is_err());
        // Once the head succeeded, the rest fit.
        let rest: Vec<usize> = (1..21).collect();
        assert_eq!(plan_groups(&requests, &rest).unwrap().len(), 1);
    }

    #[test]
    fn a_batch_is_as_repeatable_as_its_least_repeatable_part() {
        use RetrySafety::*;
        assert_eq!(weakest(Idempotent, Upsert), Upsert);
        assert_eq!(weakest(Upsert, NotIdempotent), NotIdempotent);
        assert_eq!(weakest(Idempotent, Idempotent), Idempotent);
    }
}
