//! The export format: JSON lines, one object per line, each with a `"type"`:
//!
//! 1. one `header` line first: format name and version, the first sequence
//!    number in the file (`since`), the chain head and Merkle tree state
//!    before it, and the public keys that sign checkpoints;
//! 2. `entry` lines in sequence order;
//! 3. `checkpoint` lines, each right after the entry it covers (`seq`).
//!
//! See `docs/audit-log.md` for the field-by-field description.

use crate::checkpoint::Checkpoint;
use crate::entry::{ChainHead, Entry};
use crate::keys::PublicKeyDocument;
use crate::merkle::MerkleFrontier;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// The `format` value of an export header.
pub const FORMAT_NAME: &str = "arbiter-audit-export";
/// The version of the export format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Always [`FORMAT_VERSION`].
    pub version: u32,
    /// Sequence number of the first entry in the file; 1 for a full export.
    pub since: u64,
    /// The chain head before entry `since` (seq `since - 1` and its hash;
    /// [`ChainHead::GENESIS`] for a full export).
    pub start: ChainHead,
    /// Merkle tree state of entries 1..since-1 (empty for a full export),
    /// so that checkpoints after `since` can be checked.
    pub tree: MerkleFrontier,
    /// Public keys whose checkpoints appear in the file.
    pub keys: Vec<PublicKeyDocument>,
    /// When the export was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_at: Option<Timestamp>,
}

impl ExportHeader {
    /// Header of a full export (from entry 1).
    pub fn full(keys: Vec<PublicKeyDocument>) -> ExportHeader {
        ExportHeader {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            since: 1,
            start: ChainHead::GENESIS,
            tree: MerkleFrontier::new(),
            keys,
            exported_at: None,
        }
    }

    /// Header of an export from entry `start.seq + 1`, given the head and
    /// tree state after entry `start.seq` (the tree must have `start.seq`
    /// leaves).
    pub fn since(
        start: ChainHead,
        tree: MerkleFrontier,
        keys: Vec<PublicKeyDocument>,
    ) -> ExportHeader {
        ExportHeader {
            since: start.seq.saturating_add(1),
            start,
            tree,
            ..ExportHeader::full(keys)
        }
    }
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

/// Writes an export line by line. It formats what it is given; the caller
/// (the server's export endpoint) supplies entries in order and each
/// checkpoint right after the entry it covers.
pub struct ExportWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> ExportWriter<W> {
    /// Starts an export with its header line.
    pub fn new(out: W, header: &ExportHeader) -> io::Result<ExportWriter<W>> {
        let mut w = ExportWriter {
            out,
            buf: Vec::with_capacity(512),
        };
        w.line("header", header)?;
        Ok(w)
    }

    fn line<T: Serialize>(&mut self, kind: &'static str, value: &T) -> io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, &Tagged { kind, inner: value })?;
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    /// Writes an entry line.
    pub fn entry(&mut self, entry: &Entry) -> io::Result<()> {
        self.line("entry", entry)
    }

    /// Writes a checkpoint line.
    pub fn checkpoint(&mut self, checkpoint: &Checkpoint) -> io::Result<()> {
        self.line("checkpoint", checkpoint)
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// What [`write_sample_log`] made.
#[derive(Debug, Clone)]
pub struct SampleLog {
    /// Head after the last entry.
    pub head: ChainHead,
    /// Entries written (not counting those before `since`).
    pub entries_written: u64,
    /// Checkpoints written.
    pub checkpoints_written: u64,
}

/// Writes a realistic export of `entries` entries (a mix of actors, actions
/// and payloads, one every 1.5 s from 2025-01-01), with a checkpoint every
/// `checkpoint_every` entries (0: none) and one at the last entry; from
/// entry `since` on (1 for a full export). For tests, benchmarks and
/// `arbiter audit sample-log`; it builds the log exactly as the server does
/// (appender, frontier, signed checkpoints). Deterministic for a given key.
pub fn write_sample_log<W: Write>(
    out: W,
    key: &crate::AuditSigningKey,
    entries: u64,
    checkpoint_every: u64,
    since: u64,
) -> io::Result<SampleLog> {
    const ACTORS: [&str; 5] = [
        "user:alice",
        "agent:ci-bot",
        "system",
        "user:bob",
        "agent:terraform-runner",
    ];
    const ACTIONS: [&str; 6] = [
        "change_request.submitted",
        "change_request.evaluated",
        "change_request.decided",
        "review.approved",
        "policy.updated",
        "stack.state_pushed",
    ];
    let since = since.max(1);
    let start_ms = 1_735_689_600_000u64; // 2025-01-01T00:00:00.000Z
    let mut head = ChainHead::GENESIS;
    let mut tree = MerkleFrontier::new();
    let mut writer: Option<ExportWriter<W>> = None;
    let mut out = Some(out);
    let mut written = 0;
    let mut checkpoints = 0;
    let bad = |e: crate::EntryError| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    if since == 1 {
        let w = out
            .take()
            .ok_or_else(|| io::Error::other("writer already used"))?;
        writer = Some(ExportWriter::new(
            w,
            &ExportHeader::full(vec![key.public_key().to_document()]),
        )?);
    }
    for i in 1..=entries {
        let cr = i / 3 + 1;
        let payload = serde_json::json!({
            "change_request": cr,
            "stack": format!("stack-{}", cr % 17),
            "confidence": (i * 37 % 1000) as f64 / 10.0,
        });
        let digest = crate::payload_digest(&payload)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let time = Timestamp::from_unix_millis(start_ms + i * 1500)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let entry = head
            .next(crate::NewEntry {
                time,
                actor: ACTORS[(i % 5) as usize].to_string(),
                action: ACTIONS[(i % 6) as usize].to_string(),
                subject: format!("change_request:{cr}"),
                payload_digest: digest,
            })
            .map_err(bad)?;
        head = entry.head();
        tree.push_entry_hash(&entry.hash);
        if i + 1 == since {
            let w = out
                .take()
                .ok_or_else(|| io::Error::other("writer already used"))?;
            writer = Some(ExportWriter::new(
                w,
                &ExportHeader::since(head, tree.clone(), vec![key.public_key().to_document()]),
            )?);
            continue;
        }
        let Some(w) = writer.as_mut() else { continue };
        w.entry(&entry)?;
        written += 1;
        if (checkpoint_every > 0 && i % checkpoint_every == 0) || i == entries {
            let cp = key.sign_checkpoint(i, entry.hash, tree.root(), time);
            w.checkpoint(&cp)?;
            checkpoints += 1;
        }
    }
    match writer {
        Some(w) => {
            w.finish()?;
        }
        None => {
            // `since` is past the end: an export with a header and no entries.
            if let Some(o) = out.take() {
                ExportWriter::new(
                    o,
                    &ExportHeader::since(head, tree, vec![key.public_key().to_document()]),
                )?
                .finish()?;
            }
        }
    }
    Ok(SampleLog {
        head,
        entries_written: written,
        checkpoints_written: checkpoints,
    })
}
