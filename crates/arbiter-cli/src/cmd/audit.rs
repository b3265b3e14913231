//! `arbiter audit verify FILE`: offline verification of an audit log export
//! (and a hidden `audit sample-log` that writes a signed export for tests
//! and benchmarks).

use anyhow::Context;
use arbiter_audit::{
    verify_reader, write_sample_log, AuditPublicKey, AuditSigningKey, KeySource, Report,
    VerifyOptions,
};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Audit log commands.
#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Verify an audit log export offline (exit 0 valid, 1 invalid).
    ///
    /// Checks the hash chain, the sequence numbers, the checkpoints and their
    /// signatures, in one pass over the file.
    #[command(
        after_help = "The first problem is reported with its line and sequence number: a \
modified, deleted, inserted or reordered entry, a broken chain, a bad or unknown checkpoint \
signature, a checkpoint that disagrees with the entries, or a malformed line.\n\n\
Get the trusted key once from the server: curl https://arbiter.example/api/v1/audit/key > audit-key.json"
    )]
    Verify(VerifyArgs),
    /// Download the server's audit log as JSON lines (what `verify` checks).
    Export(ExportArgs),
    /// Write a generated export with valid signatures (tests, benchmarks).
    #[command(hide = true)]
    SampleLog(SampleLogArgs),
}

/// Arguments of `audit export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// First sequence number (a partial export; the header carries the
    /// chain state before it).
    #[arg(long, default_value_t = 1)]
    pub since: u64,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub server: super::client::ServerArgs,
}

/// Arguments of `audit verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The export (JSON lines, as `arbiter audit export` writes); `-` reads
    /// stdin. Omit it with `--server` to verify the server's log directly.
    #[arg(required_unless_present = "server")]
    pub file: Option<PathBuf>,
    /// Verify the log of this server (streamed; needs a viewer token).
    #[arg(long, value_name = "URL", conflicts_with = "file")]
    pub server: Option<String>,
    /// API token for `--server` [env: ARBITER_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Trusted public key (the JSON document of GET /api/v1/audit/key); repeat
    /// for rotated keys. Without it the key listed in the file itself is used,
    /// which proves the file is self-consistent, not that the server wrote it.
    #[arg(long = "key", value_name = "PUBKEY.json")]
    pub keys: Vec<PathBuf>,
    /// Output format: text or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Fail (exit 1) on warnings too: entries after the last checkpoint, no
    /// trusted key, partial export.
    #[arg(long)]
    pub strict: bool,
    /// Worker threads for parsing and hashing (0 = one per core).
    #[arg(long, default_value_t = 0, hide = true)]
    pub threads: usize,
}

/// Arguments of the hidden `audit sample-log`.
#[derive(clap::Args)]
pub struct SampleLogArgs {
    /// File to write.
    pub out: PathBuf,
    /// Number of entries in the log.
    #[arg(long, default_value_t = 1000)]
    pub entries: u64,
    /// A checkpoint every N entries (and one at the last entry).
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: u64,
    /// Export from this sequence number (a partial export).
    #[arg(long, default_value_t = 1)]
    pub since: u64,
    /// Sign with this PKCS#8 PEM key instead of a fresh one.
    #[arg(long, value_name = "KEY.pem")]
    pub signing_key: Option<PathBuf>,
    /// Write the public key document (for `verify --key`) here.
    #[arg(long, value_name = "PUBKEY.json")]
    pub key_out: Option<PathBuf>,
}

pub fn run(cmd: AuditCommand) -> anyhow::Result<u8> {
    match cmd {
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Export(a) => export(a),
        AuditCommand::SampleLog(a) => sample_log(a),
    }
}

/// Reads `--key` files.
pub fn load_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<AuditPublicKey>> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading key {}", p.display()))?;
            AuditPublicKey::from_json(&text).with_context(|| format!("reading key {}", p.display()))
        })
        .collect()
}

fn verify(args: VerifyArgs) -> anyhow::Result<u8> {
    let options = VerifyOptions {
        trusted_keys: load_keys(&args.keys)?,
        threads: args.threads,
    };
    let report = match (&args.file, &args.server) {
        (Some(f), _) if f.as_os_str() == "-" => verify_reader(std::io::stdin(), &options),
        (Some(f), _) => {
            let file =
                std::fs::File::open(f).with_context(|| format!("opening {}", f.display()))?;
            verify_reader(file, &options)
        }
        (None, server) => {
            let client = super::client::Client::new(
                &super::client::ServerArgs {
                    server: server.clone(),
                    token: args.token.clone(),
                    json: false,
                },
                None,
            )?;
            let mut trusted = options.clone();
            if trusted.trusted_keys.is_empty() {
                // The server's current key, fetched separately from the log.
                let doc = client.get::<arbiter_audit::PublicKeyDocument>("/api/v1/audit/key")?;
                trusted.trusted_keys.push(
                    AuditPublicKey::from_document(&doc.data)
                        .context("the server's /api/v1/audit/key")?,
                );
            }
            let mut v = arbiter_audit::StreamVerifier::new(&trusted);
            client.download_with("/api/v1/audit/export", &mut |chunk| {
                v.feed(chunk);
                !v.is_done()
            })?;
            v.finish()
        }
    };
    print_report(&report, &args.format, args.strict)
}

fn export(args: ExportArgs) -> anyhow::Result<u8> {
    let client = super::client::Client::new(&args.server, None)?;
    let path = format!("/api/v1/audit/export?since={}", args.since);
    match &args.out {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = BufWriter::new(f);
            client.download(&path, &mut w)?;
            w.flush()
                .with_context(|| format!("writing {}", p.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            client.download(&path, &mut w)?;
            w.flush().context("writing the export")?;
        }
    }
    Ok(0)
}

/// Prints a verification report (text or JSON) and returns the exit code:
/// 0 valid, 1 invalid (or, with `strict`, valid with warnings). Shared by
/// every way of obtaining a report (file, stdin, a server's export).
pub fn print_report(report: &Report, format: &str, strict: bool) -> anyhow::Result<u8> {
    let failed = !report.valid || (strict && !report.warnings.is_empty());
    if format == "json" {
        let mut v = serde_json::to_value(report)?;
        v["strict_failure"] = serde_json::json!(report.valid && failed);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(u8::from(failed));
    }
    let range = match (report.first_seq, report.last_seq) {
        (Some(a), Some(b)) => format!(" (seq {a}..{b})"),
        _ => String::new(),
    };
    let partial = report
        .partial_from
        .map(|n| format!(", partial from entry {n}"))
        .unwrap_or_default();
    let counts = format!(
        "{} entries{range}, {} checkpoints{partial}",
        report.entries, report.checkpoints
    );
    match &report.problem {
        None => println!("audit log verified: {counts}"),
        Some(p) => {
            println!("audit log INVALID: {p}");
            println!("  verified before the problem: {counts}");
        }
    }
    if let Some(h) = report.head_hash {
        println!("  head hash:       {h}");
    }
    if let Some(r) = report.tree_root {
        println!("  tree root:       {r}");
    }
    if let Some(c) = &report.last_checkpoint {
        println!(
            "  last checkpoint: seq {} signed {} (line {})",
            c.seq, c.time, c.line
        );
    }
    let source = match report.key_source {
        KeySource::Trusted => "trusted (--key)",
        KeySource::Header => "from the file's header",
    };
    let ids: Vec<&str> = report.key_ids.iter().map(|k| k.as_str()).collect();
    if !ids.is_empty() {
        println!("  keys:            {source}: {}", ids.join(", "));
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    if report.valid && failed {
        println!(
            "audit log not accepted: --strict and {} warning(s)",
            report.warnings.len()
        );
    }
    Ok(u8::from(failed))
}

fn sample_log(args: SampleLogArgs) -> anyhow::Result<u8> {
    let key = match &args.signing_key {
        Some(p) => {
            let pem = std::fs::read_to_string(p)
                .with_context(|| format!("reading signing key {}", p.display()))?;
            AuditSigningKey::from_pkcs8_pem(&pem)
                .with_context(|| format!("reading signing key {}", p.display()))?
        }
        None => AuditSigningKey::generate()?,
    };
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let made = write_sample_log(
        &mut out,
        &key,
        args.entries,
        args.checkpoint_every,
        args.since,
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    out.flush()
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(p) = &args.key_out {
        std::fs::write(p, key.public_key().to_json() + "\n")
            .with_context(|| format!("writing {}", p.display()))?;
    }
    eprintln!(
        "wrote {}: {} entries, {} checkpoints, head {}",
        args.out.display(),
        made.entries_written,
        made.checkpoints_written,
        made.head.hash
    );
    Ok(0)
}
