//! The control plane: `arbiter serve`.
//!
//! Agents and people submit plans over HTTP; each change request is judged
//! by the same engine as `arbiter evaluate` (with the stack's context and
//! stored policy sets), checked against the submitting agent's scope and
//! velocity limits, stored together with its evaluation and audit entries in
//! one transaction, and then approved, queued for review, or rejected.
//!
//! Architecture invariant: HTTP and orchestration only. Judging is
//! arbiter-judge's, storage arbiter-store's, wire types arbiter-api's; this
//! crate decides nothing about a plan itself, only how the verdict moves a
//! change request through its lifecycle.

pub mod admission;
pub mod auth;
pub mod background;
pub mod backtest;
pub mod convert;
pub mod egress;
pub mod error;
pub mod intake;
pub mod lifecycle;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod password;
pub mod review;
pub mod routes;
pub mod runs;
pub mod session;
pub mod throttle;
pub mod ui;
pub mod webhooks;

use arbiter_store::{Store, StoreConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the embedded database and the lock file.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// How long a change request waits for reviews before it expires.
    pub review_ttl: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Longest time a request may take.
    pub request_timeout: Duration,
    /// How often background work (expiry, checkpoints) runs.
    pub tick: Duration,
    /// Audit checkpoint every this many entries…
    pub checkpoint_every_entries: u64,
    /// …or this much time.
    pub checkpoint_every: Duration,
    /// Name of this replica in job claims and logs.
    pub replica: String,
    /// How long a web UI session lasts after signing in.
    pub session_ttl: Duration,
    /// Webhook deliveries: timeouts, retries, links.
    pub webhooks: webhooks::WebhookConfig,
    /// Time budget of one policy evaluation (a plan's rules and policies,
    /// an approval decision); a policy over budget is an error of that
    /// policy, never an approval.
    pub policy_timeout: Duration,
    /// Proxies whose forwarded client address (`X-Forwarded-For`,
    /// `Forwarded`) is believed; none by default.
    pub trusted_proxies: Vec<throttle::IpNet>,
    /// Limits of the web UI's password sign-in.
    pub sign_in: throttle::SignInLimits,
    /// The data key sealing plans and states at rest; `None`: `data.key`
    /// in `data_dir`, created on first start.
    pub data_key_file: Option<PathBuf>,
    /// Earlier data keys: rows sealed with them still open, and are
    /// re-sealed with the current key in the background.
    pub old_data_key_files: Vec<PathBuf>,
    /// A body larger than this holds a large-body slot while its request
    /// is served.
    pub large_body_bytes: usize,
    /// Most requests with a large body in flight at once.
    pub max_large_bodies: usize,
    /// Most evaluations (submissions, dry runs, rollbacks) at once.
    pub max_evaluations: usize,
    /// Longest wait for a large-body or evaluation slot before 503.
    pub admission_wait: Duration,
    /// `Host` values `/mcp` accepts (`name` or `name:port`); empty: the
    /// loopback names ([`mcp::DEFAULT_ALLOWED_HOSTS`]).
    pub mcp_allowed_hosts: Vec<String>,
    /// Largest configuration bundle accepted (`--bundle-max-bytes`).
    pub bundle_max_bytes: usize,
    /// Interval between a worker's heartbeats; a run whose worker misses
    /// three is interrupted.
    pub run_heartbeat: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("arbiter-data"),
            database_url: None,
            review_ttl: Duration::from_secs(7 * 24 * 3600),
            max_body_bytes: 32 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            tick: Duration::from_secs(5),
            checkpoint_every_entries: 1000,
            checkpoint_every: Duration::from_secs(60),
            replica: format!("replica-{}", std::process::id()),
            session_ttl: Duration::from_secs(12 * 3600),
            webhooks: webhooks::WebhookConfig::default(),
            policy_timeout: arbiter_policy::limits::DEFAULT_TIMEOUT,
            trusted_proxies: Vec::new(),
            sign_in: throttle::SignInLimits::default(),
            data_key_file: None,
            old_data_key_files: Vec::new(),
            large_body_bytes: 1024 * 1024,
            max_large_bodies: 4,
            max_evaluations: 16,
            admission_wait: Duration::from_secs(10),
            mcp_allowed_hosts: Vec::new(),
            bundle_max_bytes: 64 * 1024 * 1024,
            run_heartbeat: Duration::from_secs(10),
        }
    }
}

impl ServerConfig {
    /// The budgets of a policy evaluation.
    pub fn policy_limits(&self) -> arbiter_policy::Limits {
        arbiter_policy::Limits::with_timeout(self.policy_timeout)
    }

    /// The database the server uses.
    pub fn store_config(&self) -> StoreConfig {
        let mut c = match &self.database_url {
            Some(u) => StoreConfig::new(u.clone()),
            None => StoreConfig::sqlite_in(&self.data_dir),
        };
        c.checkpoint_every_entries = self.checkpoint_every_entries;
        c.checkpoint_every = self.checkpoint_every;
        c
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// Configuration.
    pub config: Arc<ServerConfig>,
    /// Counters.
    pub metrics: Arc<metrics::Metrics>,
    /// Compiled policies.
    pub compiled: Arc<lifecycle::Compiled>,
    /// The web UI's in-memory state.
    pub ui: Arc<ui::UiState>,
    /// Large-body and evaluation slots, dry-run rates.
    pub admission: Arc<admission::Admission>,
    /// The run queue's wake-ups.
    pub runs: Arc<runs::RunsState>,
}

/// What the first start created: the admin's token, shown once.
#[derive(Debug, Clone)]
pub struct FirstStart {
    /// The admin token.
    pub admin_token: String,
}

/// A server that is listening.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Set on the first start only.
    pub first_start: Option<FirstStart>,
    /// State (for tests and embedding).
    pub state: AppState,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    _lock: Option<std::fs::File>,
}

impl Running {
    /// Stops accepting, finishes requests in flight and returns.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        match self.handle.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Waits until the server stops (on SIGINT/SIGTERM when started with
    /// [`Running::stop_on_signals`]).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.handle.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Starts the embedded worker (see [`runs::start_embedded_worker`]); it
    /// stops with the server.
    pub async fn start_embedded_worker(&self) -> Result<(), error::ApiError> {
        let url = format!("http://{}", self.addr);
        runs::start_embedded_worker(&self.state, &url, self.shutdown.subscribe()).await
    }

    /// Shuts down gracefully on SIGINT or SIGTERM.
    pub fn stop_on_signals(&self) {
        let tx = self.shutdown.clone();
        tokio::spawn(async move {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(_) => {
                            let _ = ctrl_c.await;
                            let _ = tx.send(true);
                            return;
                        }
                    };
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            {
                let _ = ctrl_c.await;
            }
            tracing::info!("shutting down");
            let _ = tx.send(true);
        });
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory is unusable or locked.
    #[error("data directory {path}: {message}")]
    DataDir {
        /// The directory.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The database could not be opened.
    #[error("{0}")]
    Store(#[from] arbiter_store::StoreError),
    /// A data key file is unusable.
    #[error("{0}")]
    DataKey(#[from] arbiter_store::sealed::SealError),
    /// The address could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, StartError> {
    let err = |m: String| StartError::DataDir {
        path: dir.display().to_string(),
        message: m,
    };
    std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create it: {e}")))?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("arbiter.lock"))
        .map_err(|e| err(format!("cannot open its lock file: {e}")))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(err(
            "another `arbiter serve` is using it (SQLite allows one server per data directory; use PostgreSQL for replicas)".into(),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(err(format!("cannot lock it: {e}"))),
    }
}

/// Opens the database, creates the first admin on a fresh one, binds the
/// address and starts serving and the background work.
pub async fn start(mut config: ServerConfig) -> Result<Running, StartError> {
    let lock = if config.database_url.is_none() {
        Some(lock_data_dir(&config.data_dir)?)
    } else {
        None
    };
    let mut store_config = config.store_config();
    store_config.sealer = data_sealer(&config)?;
    let store = Store::open(&store_config).await?;
    arbiter_store::sealed::check_keys(&store).await?;
    let first_start = first_admin(&store).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    if config.webhooks.public_url.is_none() {
        // Links in webhook payloads name the address actually bound (port 0
        // becomes the real port).
        config.webhooks.public_url = Some(format!("http://{addr}"));
    }
    let admission = Arc::new(admission::Admission::new(&config));
    let state = AppState {
        admission,
        store,
        config: Arc::new(config),
        metrics: Arc::new(metrics::Metrics::default()),
        compiled: Arc::new(lifecycle::Compiled::default()),
        ui: Arc::new(ui::UiState::default()),
        runs: Arc::new(runs::RunsState::default()),
    };
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    background::spawn(state.clone(), rx.clone());
    let rekeying = state.store.clone();
    let span = tracing::info_span!("background", job = "rekey");
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let t = std::time::Instant::now();
            let done = arbiter_store::sealed::rekey(&rekeying).await;
            tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "rekey finished");
            match done {
                Ok(n) if n.plans + n.states > 0 => tracing::info!(
                    plans = n.plans,
                    states = n.states,
                    "sealed stored plans and states with the current data key"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "re-sealing stored plans and states"),
            }
        },
        span,
    ));
    webhooks::spawn(state.clone(), rx.clone());
    let app = routes::router(state.clone());
    let handle = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.wait_for(|v| *v).await;
        })
        .await
    });
    Ok(Running {
        addr,
        first_start,
        state,
        handle,
        shutdown: tx,
        _lock: lock,
    })
}

/// The data keys: the current one (`--data-key-file`, else `data.key` in
/// the data directory, created on first start) and the old ones.
fn data_sealer(config: &ServerConfig) -> Result<arbiter_store::sealed::Sealer, StartError> {
    use arbiter_store::sealed::{DataKey, Sealer};
    let current = match &config.data_key_file {
        Some(p) => DataKey::read(p)?,
        None => DataKey::load_or_create(&config.data_dir.join("data.key"))?,
    };
    let old = config
        .old_data_key_files
        .iter()
        .map(|p| DataKey::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Sealer::new(current, old))
}

/// Creates the `admin` user and a token for it when nobody exists yet.
async fn first_admin(store: &Store) -> Result<Option<FirstStart>, StartError> {
    if arbiter_store::principals::any_user(store.pool()).await? {
        return Ok(None);
    }
    let made = store
        .write(|cx| {
            Box::pin(async move {
                let u = arbiter_store::principals::create_user(
                    cx,
                    "admin",
                    arbiter_api::Role::Admin,
                    None,
                    "system",
                )
                .await?;
                arbiter_store::principals::create_token(
                    cx,
                    &u.name,
                    Some("first start".into()),
                    None,
                    "system",
                )
                .await
            })
        })
        .await;
    match made {
        Ok(t) => Ok(t.token.map(|admin_token| FirstStart { admin_token })),
        // Another replica created it at the same moment.
        Err(arbiter_store::StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
