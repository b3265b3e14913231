//! Parsing one line of an export (runs on worker threads): JSON into the
//! fields of its type, each field checked, an entry's hash computed.

use super::report::{Problem, ProblemKind};
use crate::checkpoint::{Checkpoint, CheckpointSignature};
use crate::digest::Digest;
use crate::entry::{entry_hash, validate_fields, ChainHead, EntryError, MAX_SEQ};
use crate::export::{ExportHeader, FORMAT_NAME, FORMAT_VERSION};
use crate::keys::{AuditPublicKey, KeyId, PublicKeyDocument};
use crate::merkle::{leaf_hash, MerkleFrontier};
use crate::time::Timestamp;
use serde::Deserialize;
use std::borrow::Cow;

/// Every field any line type may have; which are required or allowed is
/// checked per type after parsing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    seq: Option<u64>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    actor: Option<Cow<'a, str>>,
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload_digest: Option<Cow<'a, str>>,
    #[serde(borrow)]
    prev_hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    entry_hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tree_root: Option<Cow<'a, str>>,
    #[serde(borrow)]
    key_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    format: Option<Cow<'a, str>>,
    version: Option<u64>,
    since: Option<u64>,
    start: Option<ChainHead>,
    tree: Option<MerkleFrontier>,
    keys: Option<Vec<PublicKeyDocument>>,
    #[serde(borrow)]
    exported_at: Option<Cow<'a, str>>,
}

/// An entry line as the checker needs it.
#[derive(Debug, Clone)]
pub(super) struct ParsedEntry {
    pub(super) line: u64,
    pub(super) seq: u64,
    pub(super) prev: Digest,
    pub(super) hash: Digest,
    /// What the fields hash to.
    pub(super) computed: Digest,
    /// Merkle leaf of the stated hash.
    pub(super) leaf: Digest,
}

#[derive(Debug)]
pub(super) enum Item {
    Header(u64, Box<ExportHeader>),
    Entry(ParsedEntry),
    Checkpoint(u64, Box<Checkpoint>),
    Bad(Problem),
}

impl Item {
    /// Items after which the checker can decide about earlier ones.
    pub(super) fn ends_lookahead(&self) -> bool {
        matches!(self, Item::Entry(_) | Item::Bad(_))
    }
}

/// Column (1-based, in characters) of `"name"` in the line, if present.
fn field_column(bytes: &[u8], name: &str) -> Option<u64> {
    let needle = format!("\"{name}\"");
    let pos = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?;
    let prefix = std::str::from_utf8(&bytes[..pos]).ok()?;
    Some(prefix.chars().count() as u64 + 1)
}

struct LineCtx<'b> {
    line: u64,
    bytes: &'b [u8],
}

impl LineCtx<'_> {
    fn bad(&self, field: Option<&str>, message: String) -> Problem {
        Problem {
            kind: ProblemKind::Malformed,
            line: self.line,
            column: field.and_then(|f| field_column(self.bytes, f)).or(Some(1)),
            seq: None,
            message,
        }
    }

    fn require<'v, T>(&self, kind: &str, name: &str, v: &'v Option<T>) -> Result<&'v T, Problem> {
        v.as_ref()
            .ok_or_else(|| self.bad(None, format!("{kind} line without field `{name}`")))
    }

    fn digest(&self, name: &str, text: &str) -> Result<Digest, Problem> {
        Digest::from_hex(text).map_err(|e| self.bad(Some(name), format!("field `{name}`: {e}")))
    }
}

pub(super) fn parse_line(line: u64, bytes: &[u8]) -> Item {
    match parse_line_inner(&LineCtx { line, bytes }) {
        Ok(item) => item,
        Err(p) => Item::Bad(p),
    }
}

fn parse_line_inner(cx: &LineCtx<'_>) -> Result<Item, Problem> {
    if cx.bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(cx.bad(None, "empty line".into()));
    }
    let raw: RawLine<'_> = serde_json::from_slice(cx.bytes).map_err(|e| {
        let text = e.to_string();
        // serde_json appends " at line L column C"; the line is ours.
        let msg = match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        let mut p = cx.bad(None, msg);
        p.column = Some(e.column() as u64);
        p
    })?;
    let kind = raw
        .kind
        .as_deref()
        .ok_or_else(|| cx.bad(None, "line without a \"type\" field".into()))?;
    // Fields each type may carry; any other present field is an error.
    let present: [(&str, bool); 19] = [
        ("seq", raw.seq.is_some()),
        ("time", raw.time.is_some()),
        ("actor", raw.actor.is_some()),
        ("action", raw.action.is_some()),
        ("subject", raw.subject.is_some()),
        ("payload_digest", raw.payload_digest.is_some()),
        ("prev_hash", raw.prev_hash.is_some()),
        ("hash", raw.hash.is_some()),
        ("entry_hash", raw.entry_hash.is_some()),
        ("tree_root", raw.tree_root.is_some()),
        ("key_id", raw.key_id.is_some()),
        ("signature", raw.signature.is_some()),
        ("format", raw.format.is_some()),
        ("version", raw.version.is_some()),
        ("since", raw.since.is_some()),
        ("start", raw.start.is_some()),
        ("tree", raw.tree.is_some()),
        ("keys", raw.keys.is_some()),
        ("exported_at", raw.exported_at.is_some()),
    ];
    let allowed: &[&str] = match kind {
        "entry" => &[
            "seq",
            "time",
            "actor",
            "action",
            "subject",
            "payload_digest",
            "prev_hash",
            "hash",
        ],
        "checkpoint" => &[
            "seq",
            "entry_hash",
            "tree_root",
            "time",
            "key_id",
            "signature",
        ],
        "header" => &[
            "format",
            "version",
            "since",
            "start",
            "tree",
            "keys",
            "exported_at",
        ],
        other => {
            return Err(cx.bad(
                Some("type"),
                format!(
                "unknown line type {other:?} (expected \"header\", \"entry\" or \"checkpoint\")"
            ),
            ))
        }
    };
    if let Some((name, _)) = present
        .iter()
        .find(|(name, here)| *here && !allowed.contains(name))
    {
        return Err(cx.bad(
            Some(name),
            format!(
                "field `{name}` does not belong in {} {kind} line",
                if kind == "entry" { "an" } else { "a" }
            ),
        ));
    }
    match kind {
        "entry" => parse_entry(cx, &raw).map(Item::Entry),
        "checkpoint" => parse_checkpoint(cx, &raw).map(|c| Item::Checkpoint(cx.line, Box::new(c))),
        _ => parse_header(cx, raw).map(|h| Item::Header(cx.line, Box::new(h))),
    }
}

fn parse_entry(cx: &LineCtx<'_>, raw: &RawLine<'_>) -> Result<ParsedEntry, Problem> {
    let seq = *cx.require("entry", "seq", &raw.seq)?;
    if seq == 0 || seq > MAX_SEQ {
        return Err(cx.bad(Some("seq"), format!("seq must be between 1 and {MAX_SEQ}")));
    }
    let time = cx.require("entry", "time", &raw.time)?;
    Timestamp::parse(time).map_err(|e| cx.bad(Some("time"), format!("field `time`: {e}")))?;
    let actor = cx.require("entry", "actor", &raw.actor)?;
    let action = cx.require("entry", "action", &raw.action)?;
    let subject = cx.require("entry", "subject", &raw.subject)?;
    validate_fields(actor, action, subject).map_err(|e| {
        let field = match &e {
            EntryError::InvalidField { field, .. } => Some(*field),
            EntryError::SequenceExhausted(_) => None,
        };
        cx.bad(field, format!("field {e}"))
    })?;
    let payload_digest = cx.digest(
        "payload_digest",
        cx.require("entry", "payload_digest", &raw.payload_digest)?,
    )?;
    let prev = cx.digest(
        "prev_hash",
        cx.require("entry", "prev_hash", &raw.prev_hash)?,
    )?;
    let hash = cx.digest("hash", cx.require("entry", "hash", &raw.hash)?)?;
    let computed = entry_hash(seq, time, actor, action, subject, &payload_digest, &prev);
    Ok(ParsedEntry {
        line: cx.line,
        seq,
        prev,
        hash,
        computed,
        leaf: leaf_hash(hash.as_bytes()),
    })
}

fn parse_checkpoint(cx: &LineCtx<'_>, raw: &RawLine<'_>) -> Result<Checkpoint, Problem> {
    let seq = *cx.require("checkpoint", "seq", &raw.seq)?;
    if seq == 0 || seq > MAX_SEQ {
        return Err(cx.bad(
            Some("seq"),
            format!("a checkpoint covers entries 1..=seq with seq between 1 and {MAX_SEQ}"),
        ));
    }
    let time = cx.require("checkpoint", "time", &raw.time)?;
    let time =
        Timestamp::parse(time).map_err(|e| cx.bad(Some("time"), format!("field `time`: {e}")))?;
    let signature =
        CheckpointSignature::from_base64(cx.require("checkpoint", "signature", &raw.signature)?)
            .map_err(|e| cx.bad(Some("signature"), e))?;
    Ok(Checkpoint {
        seq,
        entry_hash: cx.digest(
            "entry_hash",
            cx.require("checkpoint", "entry_hash", &raw.entry_hash)?,
        )?,
        tree_root: cx.digest(
            "tree_root",
            cx.require("checkpoint", "tree_root", &raw.tree_root)?,
        )?,
        time,
        key_id: KeyId::from_text(cx.require("checkpoint", "key_id", &raw.key_id)?),
        signature,
    })
}

fn parse_header(cx: &LineCtx<'_>, raw: RawLine<'_>) -> Result<ExportHeader, Problem> {
    let format = cx.require("header", "format", &raw.format)?;
    if format != FORMAT_NAME {
        let mut p = cx.bad(
            Some("format"),
            format!("format {format:?} is not {FORMAT_NAME:?}"),
        );
        p.kind = ProblemKind::UnsupportedFormat;
        return Err(p);
    }
    let version = *cx.require("header", "version", &raw.version)?;
    if version != u64::from(FORMAT_VERSION) {
        let mut p = cx.bad(
            Some("version"),
            format!("export format version {version} is not supported (this verifier reads version {FORMAT_VERSION})"),
        );
        p.kind = ProblemKind::UnsupportedFormat;
        return Err(p);
    }
    let since = *cx.require("header", "since", &raw.since)?;
    let exported_at = match &raw.exported_at {
        Some(t) => Some(
            Timestamp::parse(t)
                .map_err(|e| cx.bad(Some("exported_at"), format!("field `exported_at`: {e}")))?,
        ),
        None => None,
    };
    let (Some(start), Some(tree), Some(keys)) = (raw.start, raw.tree, raw.keys) else {
        return Err(cx.bad(None, "header line needs `start`, `tree` and `keys`".into()));
    };
    if since == 0 || since > MAX_SEQ {
        return Err(cx.bad(
            Some("since"),
            format!("since must be between 1 and {MAX_SEQ}"),
        ));
    }
    if start.seq != since - 1 {
        return Err(cx.bad(
            Some("start"),
            format!(
                "start.seq is {} but must be since - 1 = {}",
                start.seq,
                since - 1
            ),
        ));
    }
    if since == 1 && start.hash != Digest::ZERO {
        return Err(cx.bad(
            Some("start"),
            "a full export (since 1) starts from the zero hash".into(),
        ));
    }
    if tree.size() != since - 1 {
        return Err(cx.bad(
            Some("tree"),
            format!(
                "tree.size is {} but must be since - 1 = {}",
                tree.size(),
                since - 1
            ),
        ));
    }
    for (i, k) in keys.iter().enumerate() {
        AuditPublicKey::from_document(k)
            .map_err(|e| cx.bad(Some("keys"), format!("keys[{i}]: {e}")))?;
    }
    Ok(ExportHeader {
        format: format.to_string(),
        version: FORMAT_VERSION,
        since,
        start,
        tree,
        keys,
        exported_at,
    })
}
