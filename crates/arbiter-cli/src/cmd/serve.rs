//! `arbiter serve`: the control plane.

use super::client::parse_duration;
use anyhow::{Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Run the control plane: HTTP API, review queue, background jobs.
#[derive(Args, Debug)]
#[command(
    after_help = "With no flags: http://127.0.0.1:8080, SQLite in ./arbiter-data (created on first \
start, when the first admin's token is printed once).\n\nSeveral replicas: point each at one PostgreSQL \
with --database-url postgres://USER:PASSWORD@HOST:PORT/DB.\n\nLogs go to stderr; set ARBITER_LOG=debug \
for more (or ARBITER_LOG=warn for less)."
)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database.
    #[arg(
        long,
        default_value = "arbiter-data",
        value_name = "DIR",
        env = "ARBITER_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL instead of the embedded SQLite.
    #[arg(
        long,
        value_name = "URL",
        env = "ARBITER_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// How long a change request waits for reviews before it expires (e.g. 72h, 7d).
    #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
    pub review_ttl: std::time::Duration,
    /// How long a web UI sign-in lasts (e.g. 8h, 1d).
    #[arg(long, default_value = "12h", value_parser = parse_duration, value_name = "DURATION")]
    pub session_ttl: std::time::Duration,
    /// Largest request body accepted, in MiB (plans are sent whole).
    #[arg(long, default_value_t = 32, value_name = "MIB")]
    pub max_body_mib: usize,
    /// Longest time a request may take.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: std::time::Duration,
    /// Time budget of one policy evaluation (plan policies, approval policies);
    /// a policy that exceeds it is an error, never an approval.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub policy_timeout: std::time::Duration,
    /// Most requests with a large body (over --large-body-kib) in flight at once; more wait, then get 503.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_large_bodies: u32,
    /// Size from which a request body counts as large, in KiB.
    #[arg(long, default_value_t = 1024, value_name = "KIB", value_parser = clap::value_parser!(u32).range(1..))]
    pub large_body_kib: u32,
    /// Most plan evaluations (submissions, dry runs, rollbacks) at once, shared fairly between callers.
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_evaluations: u32,
    /// Longest wait for a large-body or evaluation slot before 503 (Retry-After).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub admission_wait: std::time::Duration,
    /// Sign an audit checkpoint every this many entries.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub checkpoint_every_entries: u64,
    /// …or at least this often while entries arrive.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub checkpoint_every: std::time::Duration,
    /// How often background work (review expiry, checkpoints) runs.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
    pub tick: std::time::Duration,
    /// This server's URL as webhook receivers should use it in links (default http://LISTEN).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Longest wait for a webhook receiver's answer.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub webhook_timeout: std::time::Duration,
    /// Refuse webhook targets on loopback, private (RFC 1918, fc00::/7), link-local (169.254.0.0/16, fe80::/10) or unspecified addresses, IPv4-mapped forms included: IP literals when subscribed, names where they resolve at delivery (proxies are then not used).
    #[arg(long)]
    pub webhook_deny_private: bool,
    /// Attempts per webhook delivery before it is marked failed.
    #[arg(long, default_value_t = 12, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_max_attempts: u32,
    /// Delay before a delivery's second attempt (doubling after, capped at 10m).
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
    pub webhook_backoff: std::time::Duration,
    /// How long a replica holds a claimed delivery.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
    pub webhook_lease: std::time::Duration,
    /// How often to look for due deliveries.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
    pub webhook_poll: std::time::Duration,
    /// A reverse proxy whose X-Forwarded-For / Forwarded client address is
    /// believed (CIDR block or address; repeatable). None by default: the
    /// direct peer is the client.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = arbiter_server::throttle::parse_trusted_proxy)]
    pub trusted_proxies: Vec<arbiter_server::throttle::IpNet>,
    /// The key sealing plans and states at rest (64 hex digits). Default:
    /// DATA_DIR/data.key, created on first start. Replicas share one.
    #[arg(long, value_name = "FILE")]
    pub data_key_file: Option<PathBuf>,
    /// An earlier data key, after a rotation: rows sealed with it still
    /// read, and are re-sealed with the current key in the background
    /// (repeatable).
    #[arg(long = "old-data-key-file", value_name = "FILE")]
    pub old_data_key_files: Vec<PathBuf>,
    /// A `Host` (name or name:port) the MCP endpoint `/mcp` accepts, e.g.
    /// the name a proxy forwards (repeatable). Default: localhost,
    /// 127.0.0.1 and ::1 only, against DNS rebinding.
    #[arg(long = "mcp-allowed-host", value_name = "HOST")]
    pub mcp_allowed_hosts: Vec<String>,
    /// Largest configuration bundle accepted (`arbiter submit --config`), bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    pub bundle_max_bytes: usize,
    /// Do not start the embedded worker (`arbiter worker --pool embedded`
    /// as a separate process); runs then wait for workers started elsewhere.
    #[arg(long)]
    pub no_embedded_worker: bool,
    /// Interval of workers' heartbeats; a run whose worker misses three is
    /// interrupted.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION", hide = true)]
    pub run_heartbeat: std::time::Duration,
}

/// Runs the server until SIGINT/SIGTERM.
pub fn run(args: ServeArgs) -> Result<u8> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ARBITER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // The MCP SDK logs whole messages (plans, verdicts) at debug and trace:
    // never more than info from it, whatever ARBITER_LOG says.
    let filter = match "rmcp=info".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(u) = &args.public_url {
        if !u.starts_with("http://") && !u.starts_with("https://") {
            anyhow::bail!("--public-url {u:?} must start with http:// or https://");
        }
    }
    let cfg = arbiter_server::ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        database_url: args.database_url.clone(),
        review_ttl: args.review_ttl,
        session_ttl: args.session_ttl,
        max_body_bytes: args.max_body_mib.max(1) * 1024 * 1024,
        request_timeout: args.request_timeout,
        policy_timeout: args.policy_timeout,
        max_large_bodies: args.max_large_bodies as usize,
        large_body_bytes: args.large_body_kib as usize * 1024,
        max_evaluations: args.max_evaluations as usize,
        admission_wait: args.admission_wait,
        tick: args.tick,
        checkpoint_every_entries: args.checkpoint_every_entries,
        checkpoint_every: args.checkpoint_every,
        webhooks: arbiter_server::webhooks::WebhookConfig {
            poll: args.webhook_poll,
            timeout: args.webhook_timeout,
            max_attempts: args.webhook_max_attempts,
            backoff_base: args.webhook_backoff,
            lease: args.webhook_lease,
            public_url: args.public_url.clone(),
            deny_private: args.webhook_deny_private,
            ..Default::default()
        },
        trusted_proxies: args.trusted_proxies.clone(),
        data_key_file: args.data_key_file.clone(),
        old_data_key_files: args.old_data_key_files.clone(),
        mcp_allowed_hosts: args.mcp_allowed_hosts.clone(),
        bundle_max_bytes: args.bundle_max_bytes.max(1),
        run_heartbeat: args.run_heartbeat,
        ..Default::default()
    };
    rt.block_on(async move {
        let running = arbiter_server::start(cfg).await?;
        let db = match &args.database_url {
            Some(u) => format!("PostgreSQL {}", arbiter_store::redact_url(u)),
            None => format!("SQLite {}", args.data_dir.join("arbiter.db").display()),
        };
        let url = format!("http://{}", running.addr);
        println!("Arbiter {} serving {url} ({db})", env!("CARGO_PKG_VERSION"));
        if let Some(first) = &running.first_start {
            println!();
            println!("First start: created the user `admin`. Its API token, shown only this once:");
            println!();
            println!("    {}", first.admin_token);
            println!();
            println!(
                "    export ARBITER_SERVER={url} ARBITER_TOKEN={}",
                first.admin_token
            );
            println!();
            println!(
                "The web UI is at {url}/ (sign in with this token, or give people passwords)."
            );
            println!();
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        if !args.no_embedded_worker {
            if let Err(e) = running.start_embedded_worker().await {
                eprintln!(
                    "error: the embedded worker did not start: {}; runs wait for a worker (arbiter worker --pool embedded)",
                    e.message
                );
            }
        }
        running.stop_on_signals();
        running.wait().await.context("serving")?;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(0)
}
