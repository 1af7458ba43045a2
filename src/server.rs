//! Process wiring shared by `main` and the tests that run a real server:
//! logging, opening the store, serving until a signal, shutting down in order.

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;

use crate::api::{HttpSettings, create_app};
use crate::clock::{Clock, SystemClock};
use crate::config::{LogFormat, Settings};
use crate::domain::Service;
use crate::store::{self, StoreError};

/// Installs the global tracing subscriber (RUST_LOG, default "info"),
/// writing to stdout through [`crate::logwriter`]: a request appends its
/// line to a buffer that a thread of its own writes out. Keep the returned
/// flusher until the process ends: dropping it writes what is buffered.
pub fn init_logging(format: LogFormat) -> crate::logwriter::Flusher {
    use tracing_subscriber::EnvFilter;
    let (writer, flusher) = crate::logwriter::batched(std::io::stdout());
    crate::metrics::watch_dropped_log_lines(writer.clone());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    flusher
}

/// Creates the query indexes, trying again each second while the database
/// is unreachable; false when something else stops them.
async fn prepare_when_reachable(store: &dyn crate::store::Store) -> bool {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match crate::domain::prepare(store).await {
            Ok(()) => return true,
            Err(StoreError::Unavailable(_)) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot create the query indexes; queries run without them");
                return false;
            }
        }
    }
}

/// Opens the store and serves until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> Result<(), String> {
    // Read before anything opens: a bad tokens file stops start-up at once.
    let tokens = match settings.auth.tokens_file() {
        Some(path) => Some(Arc::new(crate::auth::Tokens::load(path)?)),
        None => {
            if !settings.server.listen.ip().is_loopback() {
                tracing::warn!(listen = %settings.server.listen, "authentication is off (auth.tokens_file is empty) on an address other machines can reach: anyone who reaches it can read and delete every cluster's data");
            }
            None
        }
    };
    let tls = crate::tls::server_config(&settings.server.tls)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = store::open(&settings, clock.clone())
        .await
        .map_err(|e| format!("cannot open the {:?} store: {e}", settings.storage.backend))?;
    // A database that is down at start is waited for, not given up on: the
    // service comes up not ready (`/readyz` 503, data routes 503) and
    // creates its indexes, then brings time instants up to date, once the
    // database answers. Anything else that stops the indexes stops start-up.
    let started = std::time::Instant::now();
    // The first try is short, so the probes answer soon either way (an index
    // build it cuts short goes on in the database and is asked for again).
    let first = tokio::time::timeout(
        Duration::from_secs(2),
        crate::domain::prepare(store.as_ref()),
    );
    let prepared = match first.await {
        Ok(Ok(())) => true,
        Ok(Err(StoreError::Unavailable(e))) => {
            tracing::warn!(error = %e, "the database is not reachable: serving 503 until it is");
            false
        }
        Err(_) => {
            tracing::warn!("the database did not answer within 2 s: serving 503 until it does");
            false
        }
        Ok(Err(e)) => return Err(format!("cannot create the query indexes: {e}")),
    };
    let zone = settings.query.time_zone;
    let times = Arc::new(crate::domain::timefill::TimeFill::new(&zone));
    let backfill = {
        let store = store.clone();
        let times = times.clone();
        tokio::spawn(async move {
            if prepared || prepare_when_reachable(store.as_ref()).await {
                tracing::info!(
                    ms = started.elapsed().as_millis() as u64,
                    "query indexes ready"
                );
            }
            if let Err(e) = crate::domain::timefill::run(store.as_ref(), &zone, &times).await {
                tracing::warn!(error = %e, "bringing time instants up to date stopped; it runs again at the next start");
            }
        })
    };
    let svc = Service {
        store: store.clone(),
        clock: clock.clone(),
        limits: settings.query.clone(),
        watch: crate::domain::watch::WatchHub::new(settings.watch.clone()),
        times,
    };
    let watches = svc.watch.clone();
    let cleaner = {
        let store = store.clone();
        let clock = clock.clone();
        let retention = settings.retention.clone();
        tokio::spawn(async move {
            if retention.interval_secs == 0 {
                return;
            }
            let every = Duration::from_secs(retention.interval_secs);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let started = std::time::Instant::now();
                match crate::domain::retention::run_once(store.as_ref(), &retention, clock.now())
                    .await
                {
                    Ok(r) => {
                        let removed = &crate::metrics::global().retention_removed;
                        removed.with_label_values(&["events"]).inc_by(r.events);
                        removed
                            .with_label_values(&["expired_alarms"])
                            .inc_by(r.expired_alarms);
                        removed
                            .with_label_values(&["capped_alarms"])
                            .inc_by(r.capped_alarms);
                        tracing::info!(
                            events = r.events,
                            expired_alarms = r.expired_alarms,
                            capped_alarms = r.capped_alarms,
                            ms = started.elapsed().as_millis() as u64,
                            "retention cleaner ran"
                        )
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "retention cleaner failed; next run at the next interval")
                    }
                }
            }
        })
    };
    let reloader = {
        let tokens = tokens.clone();
        let certs = tls.as_ref().map(|(_, c)| c.clone());
        (tokens.is_some() || certs.is_some()).then(|| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    if let Some(t) = &tokens {
                        t.reload_if_changed();
                    }
                    if let Some(c) = &certs {
                        c.reload_if_changed();
                    }
                }
            })
        })
    };
    let http = HttpSettings {
        max_body_bytes: settings.server.max_body_bytes,
        always_http_200: settings.server.always_http_200,
        tokens,
        request_timeout: Duration::from_secs(settings.server.request_timeout_secs),
    };
    let mut server = HttpServer::new(move || create_app(svc.clone(), http.clone()))
        .disable_signals()
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        // A client has this long to send its request head (slow senders
        // hold no worker: connections are polled, not threads).
        .client_request_timeout(Duration::from_secs(5))
        .keep_alive(Duration::from_secs(75))
        // Streamed replies end with a small write (a list's tail, a watch
        // frame): with Nagle's algorithm it waits for the client's delayed
        // ACK, ~40 ms on a keep-alive connection, every few requests.
        .on_connect(|conn, _| {
            use actix_tls::accept::rustls_0_23::TlsStream;
            use actix_web::rt::net::TcpStream;
            let tcp = conn.downcast_ref::<TcpStream>().or_else(|| {
                conn.downcast_ref::<TlsStream<TcpStream>>()
                    .map(|tls| tls.get_ref().0)
            });
            if let Some(tcp) = tcp
                && let Err(e) = tcp.set_nodelay(true)
            {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let https = tls.is_some();
    let server = match tls {
        Some((config, _)) => server.bind_rustls_0_23(settings.server.listen, config),
        None => server.bind(settings.server.listen),
    }
    .map_err(|e| format!("cannot listen on {}: {e}", settings.server.listen))?
    .run();
    let handle = server.handle();
    tracing::info!(listen = %settings.server.listen, backend = store.name(), https, "bcs-storage serving");
    let serving = tokio::spawn(server);
    wait_for_signal().await;
    let budget = Duration::from_secs(settings.server.shutdown_timeout_secs);
    let deadline = tokio::time::Instant::now() + budget;
    tracing::info!(
        open_watches = watches.active(),
        "shutting down: /readyz answers 503"
    );
    watches.drain();
    tokio::time::sleep(Duration::from_millis(settings.server.shutdown_drain_ms)).await;
    // Open watch streams end first (with the break event), so that the
    // graceful stop does not wait for them; in-flight requests finish.
    watches.shut_down();
    if tokio::time::timeout_at(deadline, handle.stop(true))
        .await
        .is_err()
    {
        tracing::warn!(
            "in-flight requests did not finish within server.shutdown_timeout_secs; stopping anyway"
        );
        handle.stop(false).await;
    }
    let _ = tokio::time::timeout_at(deadline + Duration::from_secs(1), serving).await;
    backfill.abort();
    if let Some(r) = reloader {
        r.abort();
    }
    cleaner.abort();
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
