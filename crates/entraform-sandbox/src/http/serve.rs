//! Serving: binding (loopback unless asked), loading or seeding the tenant, TLS, the accept
//! loop and the background saver.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Handle, Server};
use crate::clock::Time;
use crate::faults::FaultState;
use crate::jwt::Signer;
use crate::replica::Replica;
use crate::state::{self, Store};
use crate::{RunningSandbox, SandboxConfig, SandboxError, Secret, Stats, lock, seed, tls};

fn resolve_listen(config: &SandboxConfig) -> Result<SocketAddr, SandboxError> {
    let bad = || SandboxError::BadListen {
        addr: config.listen.clone(),
    };
    let addr: SocketAddr = match config.listen.parse() {
        Ok(a) => a,
        Err(_) => {
            let (host, port) = config.listen.rsplit_once(':').ok_or_else(bad)?;
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host.eq_ignore_ascii_case("localhost") {
                SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)
            } else {
                return Err(bad());
            }
        }
    };
    // Anyone who reaches the server can sign in as the tenant's admin (the bootstrap secret is
    // in every `serve` output): another machine only over HTTPS, and only when asked for.
    if !(addr.ip().is_loopback() || (config.allow_non_loopback && config.tls)) {
        return Err(SandboxError::NonLoopback {
            addr: config.listen.clone(),
        });
    }
    Ok(addr)
}

pub(crate) async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
    let addr = resolve_listen(&config)?;
    // Locked before loading, released after the last save: no other process's writes between.
    let mut lock = match &config.state_path {
        Some(p) => {
            let (path, role, wait) = (p.clone(), config.role, config.lock_wait);
            Some(
                tokio::task::spawn_blocking(move || lock::acquire(&path, role, wait))
                    .await
                    .map_err(|_| SandboxError::ServerGone)??,
            )
        }
        None => None,
    };
    let loaded = match &config.state_path {
        Some(p) => {
            let journal = state::journal_path_for(p);
            if std::fs::symlink_metadata(&journal).is_ok() && !state::is_journal(&journal) {
                return Err(SandboxError::NotAState {
                    path: journal,
                    found: "it is not a sandbox journal, and the sandbox keeps its journal there"
                        .into(),
                });
            }
            state::remove_stale_temps(p);
            state::remove_stale_temps(&journal);
            state::load(p)?
        }
        None => None,
    };
    let doc = match loaded {
        Some(mut doc) => {
            seed::top_up_bootstrap(&mut doc);
            doc
        }
        None => tokio::task::spawn_blocking(seed::new_tenant)
            .await
            .map_err(|_| SandboxError::ServerGone)??,
    };
    let signer = Signer::from_stored(&doc.signing_key)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: config.listen.clone(),
        source,
    })?;
    // On every interface the URL names this machine, so it works from elsewhere as well.
    let host = match local.ip() {
        ip if ip.is_unspecified() => machine_name().unwrap_or_else(|| ip.to_string()),
        IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let tls = if config.tls {
        Some(tls::generate(host.trim_matches(|c| c == '[' || c == ']'))?)
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{host}:{}", local.port());
    let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
    let ca_path = match (&tls, &config.state_path) {
        (Some(t), Some(state)) => {
            let path = tls::ca_path_for(state);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                entraform_local_file::create_private_dirs(dir).map_err(|source| {
                    SandboxError::WriteCa {
                        path: path.clone(),
                        source,
                    }
                })?;
            }
            std::fs::write(&path, &t.ca_pem).map_err(|source| SandboxError::WriteCa {
                path: path.clone(),
                source,
            })?;
            Some(path)
        }
        _ => None,
    };
    let secret = Secret::new(doc.bootstrap.client_secret.clone());
    let replica = Replica::new(config.faults.replication_delay_ms, &doc);
    let server = Arc::new(Server {
        base_url,
        time: Time::new(config.clock),
        store: Store::new(doc, config.state_path.clone()),
        signer,
        faults: config.faults.clone(),
        fault_state: FaultState::new(config.seed),
        replica,
        stats: Mutex::new(Stats::default()),
        jti_seen: Mutex::new(HashMap::new()),
        trusted_issuers: config.trusted_issuers.clone(),
        jwks_cache: tokio::sync::Mutex::new(HashMap::new()),
        http: reqwest::Client::new(),
        ca_path,
    });
    // The state file exists as soon as the server does: a snapshot of the tenant as loaded
    // (journal replayed, torn records dropped) and an empty journal.
    {
        let s = server.clone();
        tokio::task::spawn_blocking(move || s.store.save_if_changed())
            .await
            .map_err(|_| SandboxError::ServerGone)??;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let saver = tokio::spawn(saver(server.clone(), stop_rx.clone()));
    let acceptor = tls.map(|t| t.acceptor);
    let accept = tokio::spawn(accept_loop(server.clone(), listener, acceptor, stop_rx));
    if let Some(lock) = &mut lock {
        let tenant_id = server.store.read().tenant.id.clone();
        lock.announce(&server.base_url, &tenant_id);
    }
    Ok(RunningSandbox {
        _lock: lock,
        server,
        handle: Handle {
            stop: stop_tx,
            accept,
            saver,
        },
        local_addr: local,
        secret,
        ca_pem,
    })
}

/// This machine's host name, for a server listening on every interface.
#[cfg(unix)]
fn machine_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    valid.then(|| name.to_ascii_lowercase())
}

#[cfg(not(unix))]
fn machine_name() -> Option<String> {
    std::env::var("COMPUTERNAME")
        .ok()
        .map(|n| n.to_ascii_lowercase())
}

async fn saver(server: Arc<Server>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = server.store.dirty.notified() => {}
            _ = stop.changed() => return,
        }
        // Writes that made no request wait for them (none today, but a record must not sit in
        // memory): coalesced into one journal write.
        tokio::time::sleep(Duration::from_millis(25)).await;
        let s = server.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.store.persist()).await {
            tracing::warn!(error = %e, "cannot save the sandbox state");
        }
    }
}

async fn accept_loop(
    server: Arc<Server>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            res = listener.accept() => match res {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let server = server.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { server.handle(req).await }
            });
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(3), graceful.shutdown()).await;
}
