//! Progress while reading the tenant: how far [`crate::observe`] and the listings of
//! `export --all` and `certs --all` have got, and the line a command shows for it.
//!
//! Readers do not take a callback through every layer between a command and a `$batch`: a
//! command runs its read inside [`reporting`], which puts a sink in a tokio task-local, and
//! readers call [`emit`], which does nothing outside one (library callers, tests, `-q`).
//!
//! The counts are of apps whose reads of that stage came back, out of the apps the stage reads
//! (names looked up, apps found, or `$count` for a listing); with no such total the line says so.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::graph::{GraphClient, GraphError, Request};
use crate::output::StatusLine;

/// What is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Every application, page by page (`export --all`, `certs --all`).
    Listing,
    /// The applications the manifests name, with their federated credentials.
    Applications,
    /// Their service principals, with the app roles assigned to them.
    ServicePrincipals,
    /// Directory roles, delegated grants, and what an expansion cut short.
    RolesAndGrants,
}

impl Stage {
    fn label(self) -> Option<&'static str> {
        match self {
            Stage::Listing => None,
            Stage::Applications => Some("applications"),
            Stage::ServicePrincipals => Some("service principals"),
            Stage::RolesAndGrants => Some("roles and grants"),
        }
    }
}

/// How far one stage has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadProgress {
    pub stage: Stage,
    /// Apps read so far in this stage.
    pub done: usize,
    /// Apps this stage reads, when known.
    pub total: Option<usize>,
}

type Sink = Arc<dyn Fn(ReadProgress) + Send + Sync>;

tokio::task_local! {
    static SINK: Sink;
}

/// Tells the command's progress line, if one is listening.
pub fn emit(progress: ReadProgress) {
    let _ = SINK.try_with(|sink| sink(progress));
}

/// Whether a progress line is listening: a reader may spend a request on a total (`$count`)
/// only then.
pub fn listening() -> bool {
    SINK.try_with(|_| ()).is_ok()
}

/// Runs `read` with its progress on `line`, then ends the line: cleared on a terminal, and where
/// stderr is a log, one line with what was read (`count` of the result), the HTTP requests it
/// took and the time. After an error the line is only cleared: the error says the rest.
pub async fn reporting<T, E>(
    line: &StatusLine,
    client: &GraphClient,
    count: impl FnOnce(&T) -> usize,
    read: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    if !line.is_on() {
        return read.await;
    }
    let (start, before) = (Instant::now(), client.stats().http_requests);
    let seen = Arc::new(Mutex::new(false));
    let sink: Sink = {
        let (line, seen) = (line.clone(), seen.clone());
        Arc::new(move |p| {
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = true;
            line.update(&text(&p));
        })
    };
    let result = SINK.scope(sink, read).await;
    let read_anything = *seen.lock().unwrap_or_else(|e| e.into_inner());
    let done = match &result {
        Ok(value) if read_anything => Some(done_text(
            count(value),
            client.stats().http_requests - before,
            start.elapsed(),
        )),
        _ => None,
    };
    line.finish(done.as_deref());
    result
}

/// `Reading the tenant: 4,000 of 10,000 apps (service principals)`.
pub fn text(p: &ReadProgress) -> String {
    let counted = match p.total {
        Some(total) => format!(
            "{} of {} apps",
            thousands(p.done.min(total)),
            thousands(total)
        ),
        None => format!("{} apps so far, total not known", thousands(p.done)),
    };
    match p.stage.label() {
        Some(label) => format!("Reading the tenant: {counted} ({label})"),
        None => format!("Reading the tenant: {counted}"),
    }
}

/// `Read the tenant: 10,000 apps in 612 HTTP requests, 3.2s`.
pub fn done_text(apps: usize, http_requests: u64, elapsed: Duration) -> String {
    format!(
        "Read the tenant: {} app{} in {} HTTP request{}, {:.1}s",
        thousands(apps),
        if apps == 1 { "" } else { "s" },
        thousands(http_requests as usize),
        if http_requests == 1 { "" } else { "s" },
        elapsed.as_secs_f64()
    )
}

/// `10000` → `10,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Lists every application (`request`), telling the progress line how many have been read
/// after each page. While a line listens, `GET /applications/$count` (with
/// `ConsistencyLevel: eventual`, as the application-list reference documents) goes out beside
/// the first page for the total; if it fails, the line says the total is not known and the
/// listing goes on: a count shown is never a reason to fail.
pub async fn list_applications<T: serde::de::DeserializeOwned>(
    client: &GraphClient,
    request: &Request,
) -> Result<Vec<T>, GraphError> {
    if !listening() {
        return client.list(request).await;
    }
    let total: Arc<Mutex<Option<usize>>> = Arc::default();
    let read_so_far: Arc<Mutex<usize>> = Arc::default();
    let show = {
        let (total, read_so_far) = (total.clone(), read_so_far.clone());
        move || {
            let done = *read_so_far.lock().unwrap_or_else(|e| e.into_inner());
            let total = *total.lock().unwrap_or_else(|e| e.into_inner());
            emit(ReadProgress {
                stage: Stage::Listing,
                done,
                // `$count` is eventually consistent: never show fewer than were read.
                total: total.map(|t| t.max(done)),
            });
        }
    };
    let count = async {
        let counted = client
            .send(&Request::get("/applications/$count").with_header("ConsistencyLevel", "eventual"))
            .await
            .and_then(|r| r.json::<usize>());
        match counted {
            Ok(n) => {
                *total.lock().unwrap_or_else(|e| e.into_inner()) = Some(n);
                show();
            }
            Err(e) => tracing::debug!(error = %e, "no total for the progress line"),
        }
    };
    let on_page = |n: usize| {
        *read_so_far.lock().unwrap_or_else(|e| e.into_inner()) = n;
        show();
    };
    let (_, listed) = tokio::join!(count, client.list_reporting(request, &on_page));
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_how_many_of_how_many_and_what_it_reads() {
        let p = ReadProgress {
            stage: Stage::ServicePrincipals,
            done: 4000,
            total: Some(10_000),
        };
        assert_eq!(
            text(&p),
            "Reading the tenant: 4,000 of 10,000 apps (service principals)"
        );
        let listing = ReadProgress {
            stage: Stage::Listing,
            done: 999,
            total: None,
        };
        assert_eq!(
            text(&listing),
            "Reading the tenant: 999 apps so far, total not known"
        );
        assert_eq!(
            done_text(1, 1, Duration::from_millis(3200)),
            "Read the tenant: 1 app in 1 HTTP request, 3.2s"
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[tokio::test]
    async fn emitting_outside_a_reporting_scope_does_nothing() {
        assert!(!listening());
        emit(ReadProgress {
            stage: Stage::Applications,
            done: 1,
            total: Some(1),
        });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink: Sink = {
            let seen = seen.clone();
            Arc::new(move |p| seen.lock().unwrap().push(p))
        };
        SINK.scope(sink, async {
            assert!(listening());
            emit(ReadProgress {
                stage: Stage::Applications,
                done: 2,
                total: Some(3),
            });
        })
        .await;
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
