//! Streaming verification of an export: reads it once, front to back, in
//! bounded memory, and reports the first problem with its line and sequence
//! number, or a summary of what was verified.
//!
//! Two drivers share one line parser and one in-order checker:
//! [`verify_reader`] parses and hashes lines on worker threads while the
//! calling thread checks the chain in order; [`StreamVerifier`] is fed
//! bytes as they arrive (an HTTP body, for instance) and works on the
//! caller's thread.

use crate::checkpoint::{Checkpoint, CheckpointSignature};
use crate::digest::Digest;
use crate::entry::{entry_hash, validate_fields, ChainHead, EntryError, MAX_SEQ};
use crate::export::{ExportHeader, FORMAT_NAME, FORMAT_VERSION};
use crate::keys::{AuditPublicKey, KeyId, PublicKeyDocument};
use crate::merkle::{leaf_hash, MerkleFrontier};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Longest line accepted, in bytes (entries are a few hundred bytes; a
/// header with many keys a few KB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Lines after an out-of-place entry that are kept to tell what happened to
/// it (a later entry is needed to tell a swap from a deletion).
const MAX_LOOKAHEAD: usize = 64;

/// Recent entries remembered to locate entries inserted before a checkpoint.
const RECENT: usize = 16;

/// What kind of problem the verifier found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not JSON, not a known line type, a missing, extra or invalid field.
    Malformed,
    /// The first line is not an export header (or there is no line at all).
    MissingHeader,
    /// A header of another format or version.
    UnsupportedFormat,
    /// An entry whose content does not give its hash, or that was changed
    /// and re-hashed (its successor or a checkpoint remembers another hash).
    ModifiedEntry,
    /// Entries missing: a gap in sequence numbers, or a checkpoint covering
    /// entries that are not there.
    DeletedEntry,
    /// An entry that is not part of the chain: a duplicate sequence number,
    /// or entries before a checkpoint that covers fewer.
    InsertedEntry,
    /// Entries (or a checkpoint) out of order.
    ReorderedEntries,
    /// An entry's `prev_hash` does not match its predecessor's hash.
    BrokenChain,
    /// A checkpoint whose signature does not verify.
    BadCheckpointSignature,
    /// A correctly signed checkpoint that disagrees with the entries: entry
    /// hash or Merkle root.
    CheckpointMismatch,
    /// A checkpoint signed by a key that is not trusted.
    UnknownKey,
    /// The input could not be read.
    Io,
}

impl ProblemKind {
    /// Words for the kind ("modified entry").
    pub fn describe(self) -> &'static str {
        match self {
            ProblemKind::Malformed => "malformed line",
            ProblemKind::MissingHeader => "missing header",
            ProblemKind::UnsupportedFormat => "unsupported format",
            ProblemKind::ModifiedEntry => "modified entry",
            ProblemKind::DeletedEntry => "deleted entry",
            ProblemKind::InsertedEntry => "inserted entry",
            ProblemKind::ReorderedEntries => "reordered entries",
            ProblemKind::BrokenChain => "broken chain",
            ProblemKind::BadCheckpointSignature => "bad checkpoint signature",
            ProblemKind::CheckpointMismatch => "checkpoint disagrees with the entries",
            ProblemKind::UnknownKey => "unknown key",
            ProblemKind::Io => "read error",
        }
    }
}

/// The first problem in an export, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", self.render())]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// 1-based line of the export where the problem is (for an entry that
    /// was changed, the line of that entry, even if it was noticed later).
    pub line: u64,
    /// 1-based column (characters), for malformed lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// Sequence number concerned, when one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl Problem {
    fn new(kind: ProblemKind, line: u64, seq: Option<u64>, message: String) -> Problem {
        Problem {
            kind,
            line,
            column: None,
            seq,
            message,
        }
    }

    fn render(&self) -> String {
        let mut at = format!("line {}", self.line);
        if let Some(c) = self.column {
            at.push_str(&format!(", column {c}"));
        }
        if let Some(s) = self.seq {
            at.push_str(&format!(" (seq {s})"));
        }
        format!("{at}: {}: {}", self.kind.describe(), self.message)
    }
}

/// The last checkpoint that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointInfo {
    /// Entries covered (1..=seq).
    pub seq: u64,
    /// Line of the checkpoint.
    pub line: u64,
    /// When it was signed.
    pub time: Timestamp,
    /// Signing key.
    pub key_id: KeyId,
    /// Merkle root it signs.
    pub tree_root: Digest,
}

/// Where the keys that checked signatures came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// Given by the caller (`--key`): signatures prove the server wrote it.
    Trusted,
    /// Listed in the export's own header: signatures prove consistency only.
    Header,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// No problem found.
    pub valid: bool,
    /// `Some(N)` when the export starts at entry N > 1: what came before is
    /// taken from the header.
    pub partial_from: Option<u64>,
    /// Lines read.
    pub lines: u64,
    /// Entries verified (up to the problem, if any).
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// First entry's sequence number.
    pub first_seq: Option<u64>,
    /// Last verified entry's sequence number.
    pub last_seq: Option<u64>,
    /// Last verified entry's hash.
    pub head_hash: Option<Digest>,
    /// Merkle root over entries 1..=last_seq.
    pub tree_root: Option<Digest>,
    /// The last checkpoint that verified.
    pub last_checkpoint: Option<CheckpointInfo>,
    /// Entries after the last checkpoint: chained, but signed by nothing.
    pub uncovered_entries: u64,
    /// Where the checking keys came from.
    pub key_source: KeySource,
    /// Ids of the keys checkpoints were checked against.
    pub key_ids: Vec<KeyId>,
    /// Things that do not make the export invalid but limit what was proven.
    pub warnings: Vec<String>,
    /// The first problem; `None` when valid.
    pub problem: Option<Problem>,
}

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Keys to trust for checkpoint signatures. Empty: trust the keys listed
    /// in the export's header (and warn that this proves less).
    pub trusted_keys: Vec<AuditPublicKey>,
    /// Worker threads for parsing and hashing in [`verify_reader`]; 0 = one
    /// per core (at most 4), 1 = everything on the calling thread.
    pub threads: usize,
}

// ---------------------------------------------------------------------------
// Parsing one line (runs on worker threads).

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
struct ParsedEntry {
    line: u64,
    seq: u64,
    prev: Digest,
    hash: Digest,
    /// What the fields hash to.
    computed: Digest,
    /// Merkle leaf of the stated hash.
    leaf: Digest,
}

#[derive(Debug)]
enum Item {
    Header(u64, Box<ExportHeader>),
    Entry(ParsedEntry),
    Checkpoint(u64, Box<Checkpoint>),
    Bad(Problem),
}

impl Item {
    /// Items after which the checker can decide about earlier ones.
    fn ends_lookahead(&self) -> bool {
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

fn parse_line(line: u64, bytes: &[u8]) -> Item {
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

// ---------------------------------------------------------------------------
// Checking in order (runs on one thread).

/// The last accepted entry.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    line: u64,
    seq: u64,
    hash: Digest,
    /// A checkpoint signed exactly this entry's hash.
    vouched: bool,
}

/// What follows an entry or checkpoint that is out of place: the next entry
/// and the checkpoints before it.
#[derive(Default)]
struct Lookahead {
    next: Option<(u64, u64, Digest, Digest)>, // line, seq, prev, hash
    checkpoints: Vec<(u64, Digest)>,          // seq, entry_hash
}

impl Lookahead {
    /// Whether what follows confirms that an entry with this seq and hash
    /// belongs to the chain: the next entry links to it, or a checkpoint
    /// right after it signed it.
    fn confirms(&self, seq: u64, hash: &Digest) -> bool {
        self.next
            .is_some_and(|(_, s, prev, _)| seq.checked_add(1) == Some(s) && prev == *hash)
            || self.checkpoints.iter().any(|(s, h)| *s == seq && h == hash)
    }
}

struct Header {
    since: u64,
    start: ChainHead,
}

struct Checker {
    trusted: Vec<AuditPublicKey>,
    keys: Vec<AuditPublicKey>,
    key_source: KeySource,
    header: Option<Header>,
    last: Option<Accepted>,
    recent: VecDeque<(u64, u64)>,
    frontier: MerkleFrontier,
    entries: u64,
    checkpoints: u64,
    first_seq: Option<u64>,
    last_checkpoint: Option<CheckpointInfo>,
    /// Highest seq a verified checkpoint covers.
    covered_through: u64,
    queue: VecDeque<Item>,
    /// Items in `queue` that end a lookahead.
    enders: usize,
    problem: Option<Problem>,
    lines: u64,
}

impl Checker {
    fn new(options: &VerifyOptions) -> Checker {
        Checker {
            trusted: options.trusted_keys.clone(),
            keys: Vec::new(),
            key_source: if options.trusted_keys.is_empty() {
                KeySource::Header
            } else {
                KeySource::Trusted
            },
            header: None,
            last: None,
            recent: VecDeque::with_capacity(RECENT),
            frontier: MerkleFrontier::new(),
            entries: 0,
            checkpoints: 0,
            first_seq: None,
            last_checkpoint: None,
            covered_through: 0,
            queue: VecDeque::new(),
            enders: 0,
            problem: None,
            lines: 0,
        }
    }

    fn done(&self) -> bool {
        self.problem.is_some()
    }

    fn push(&mut self, item: Item) {
        if self.problem.is_some() {
            return;
        }
        if item.ends_lookahead() {
            self.enders += 1;
        }
        self.queue.push_back(item);
        self.drain(false);
    }

    fn pop(&mut self) -> Option<Item> {
        let item = self.queue.pop_front()?;
        if item.ends_lookahead() {
            self.enders -= 1;
        }
        Some(item)
    }

    fn expected_seq(&self) -> u64 {
        match (&self.last, &self.header) {
            // Entries beyond MAX_SEQ are refused when parsed.
            (Some(l), _) => l.seq.saturating_add(1),
            (None, Some(h)) => h.since,
            (None, None) => 1,
        }
    }

    fn last_hash(&self) -> Digest {
        match (&self.last, &self.header) {
            (Some(l), _) => l.hash,
            (None, Some(h)) => h.start.hash,
            (None, None) => Digest::ZERO,
        }
    }

    fn last_seq(&self) -> u64 {
        self.expected_seq() - 1
    }

    fn drain(&mut self, at_end: bool) {
        while self.problem.is_none() {
            let Some(front) = self.queue.front() else {
                return;
            };
            let front_ends = usize::from(front.ends_lookahead());
            let can_look = at_end || self.enders > front_ends || self.queue.len() > MAX_LOOKAHEAD;
            let ready = match front {
                Item::Bad(_) | Item::Header(..) => true,
                Item::Entry(x) => can_look || self.entry_in_place(x),
                Item::Checkpoint(_, c) => {
                    can_look || (self.header.is_some() && c.seq == self.last_seq())
                }
            };
            if !ready {
                return;
            }
            let Some(item) = self.pop() else { return };
            let result = match item {
                Item::Bad(p) => Err(p),
                Item::Header(line, h) => self.header_line(line, *h),
                Item::Entry(x) => {
                    if self.header.is_none() {
                        Err(missing_header(x.line, "an entry"))
                    } else if self.entry_in_place(&x) {
                        self.accept(&x);
                        Ok(())
                    } else {
                        let la = self.lookahead();
                        self.entry_out_of_place(&x, &la)
                    }
                }
                Item::Checkpoint(line, c) => {
                    if self.header.is_none() {
                        Err(missing_header(line, "a checkpoint"))
                    } else {
                        let la = self.lookahead();
                        self.checkpoint_line(line, &c, &la)
                    }
                }
            };
            if let Err(p) = result {
                self.problem = Some(p);
            }
        }
    }

    fn lookahead(&self) -> Lookahead {
        let mut la = Lookahead::default();
        for item in &self.queue {
            match item {
                Item::Entry(n) => {
                    la.next = Some((n.line, n.seq, n.prev, n.hash));
                    break;
                }
                Item::Checkpoint(_, c) => la.checkpoints.push((c.seq, c.entry_hash)),
                Item::Bad(_) => break,
                Item::Header(..) => {}
            }
        }
        la
    }

    fn entry_in_place(&self, x: &ParsedEntry) -> bool {
        self.header.is_some()
            && x.computed == x.hash
            && x.seq == self.expected_seq()
            && x.prev == self.last_hash()
    }

    fn accept(&mut self, x: &ParsedEntry) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((x.line, x.seq));
        self.last = Some(Accepted {
            line: x.line,
            seq: x.seq,
            hash: x.hash,
            vouched: false,
        });
        self.frontier.push(x.leaf);
        self.entries += 1;
        self.first_seq.get_or_insert(x.seq);
    }

    fn header_line(&mut self, line: u64, h: ExportHeader) -> Result<(), Problem> {
        if self.header.is_some() {
            return Err(Problem::new(
                ProblemKind::Malformed,
                line,
                None,
                "a second header line (the header is the first line only)".into(),
            ));
        }
        self.keys = if self.trusted.is_empty() {
            h.keys
                .iter()
                .filter_map(|d| AuditPublicKey::from_document(d).ok())
                .collect()
        } else {
            self.trusted.clone()
        };
        self.covered_through = h.since - 1;
        self.frontier = h.tree;
        self.header = Some(Header {
            since: h.since,
            start: h.start,
        });
        Ok(())
    }

    /// Classifies an entry that does not simply extend the chain.
    fn entry_out_of_place(&self, x: &ParsedEntry, la: &Lookahead) -> Result<(), Problem> {
        use ProblemKind::*;
        let at = |kind, line, seq, msg: String| Err(Problem::new(kind, line, Some(seq), msg));
        if x.computed != x.hash {
            return at(
                ModifiedEntry,
                x.line,
                x.seq,
                format!(
                    "the entry's fields hash to {} but its hash field says {}: the entry was changed",
                    x.computed, x.hash
                ),
            );
        }
        let e = self.expected_seq();
        let p_hash = self.last_hash();
        let since = self.header.as_ref().map_or(1, |h| h.since);
        if x.seq == e {
            // Right number, wrong link.
            if let Some(p) = self.last {
                if !p.vouched && la.confirms(x.seq, &x.hash) {
                    return at(
                        ModifiedEntry,
                        p.line,
                        p.seq,
                        format!(
                            "entry {} was changed and its hash recomputed: its hash is {} but entry {} (line {}) records its predecessor as {}",
                            p.seq, p.hash, x.seq, x.line, x.prev
                        ),
                    );
                }
                return at(
                    BrokenChain,
                    x.line,
                    x.seq,
                    format!(
                        "prev_hash {} does not match the hash of entry {} on line {} ({})",
                        x.prev, p.seq, p.line, p.hash
                    ),
                );
            }
            let what = if since == 1 {
                "the first entry must link to the zero hash".to_string()
            } else {
                format!(
                    "the header gives {p_hash} as the hash of entry {}",
                    since - 1
                )
            };
            return at(
                BrokenChain,
                x.line,
                x.seq,
                format!("prev_hash {} does not match: {what}", x.prev),
            );
        }
        let after = match self.last {
            Some(p) => format!("entry {} (line {})", p.seq, p.line),
            None => "the header".to_string(),
        };
        if x.seq > e {
            if let Some((n_line, n_seq, _, _)) = la.next {
                if n_seq == e {
                    return at(
                        ReorderedEntries,
                        x.line,
                        x.seq,
                        format!("entry {} comes before entry {e} (line {n_line})", x.seq),
                    );
                }
            }
            if x.prev == p_hash {
                return at(
                    DeletedEntry,
                    x.line,
                    e,
                    format!(
                        "expected entry {e} after {after}, found entry {}, which links to it: its seq was changed, or entries were removed and the chain re-linked",
                        x.seq
                    ),
                );
            }
            let missing = if x.seq - e == 1 {
                format!("entry {e} is missing")
            } else {
                format!("entries {e}..{} are missing", x.seq - 1)
            };
            return at(
                DeletedEntry,
                x.line,
                e,
                format!(
                    "{missing}: line {} holds entry {} after {after}",
                    x.line, x.seq
                ),
            );
        }
        // x.seq < e: a number seen before.
        if let Some(p) = self.last {
            if x.seq == p.seq {
                if x.hash == p.hash {
                    return at(
                        InsertedEntry,
                        x.line,
                        x.seq,
                        format!("line {} repeats entry {} of line {}", x.line, x.seq, p.line),
                    );
                }
                if !p.vouched && la.confirms(x.seq, &x.hash) {
                    return at(
                        InsertedEntry,
                        p.line,
                        p.seq,
                        format!(
                            "two entries claim seq {}: the one on line {} is not part of the chain (what follows line {} links to the other)",
                            p.seq, p.line, x.line
                        ),
                    );
                }
                return at(
                    InsertedEntry,
                    x.line,
                    x.seq,
                    format!(
                        "a second entry {} (the first is on line {}) that is not part of the chain",
                        x.seq, p.line
                    ),
                );
            }
        }
        at(
            ReorderedEntries,
            x.line,
            x.seq,
            format!(
                "entry {} appears after {after}: out of order or replayed",
                x.seq
            ),
        )
    }

    fn checkpoint_line(
        &mut self,
        line: u64,
        c: &Checkpoint,
        la: &Lookahead,
    ) -> Result<(), Problem> {
        use ProblemKind::*;
        let at = |kind, line, seq, msg: String| Err(Problem::new(kind, line, Some(seq), msg));
        let Some(key) = self.keys.iter().find(|k| *k.key_id() == c.key_id) else {
            let known = if self.keys.is_empty() {
                "no key is known".to_string()
            } else {
                let ids: Vec<&str> = self.keys.iter().map(|k| k.key_id().as_str()).collect();
                format!("known: {}", ids.join(", "))
            };
            let whose = match self.key_source {
                KeySource::Trusted => "a key that is not among the trusted keys",
                KeySource::Header => "a key that the header does not list",
            };
            return at(
                UnknownKey,
                line,
                c.seq,
                format!("checkpoint signed with {whose} ({}; {known})", c.key_id),
            );
        };
        if !c.verify(key) {
            return at(
                BadCheckpointSignature,
                line,
                c.seq,
                format!(
                    "the signature does not verify with key {}: the checkpoint was altered or forged",
                    c.key_id
                ),
            );
        }
        let p = self.last_seq();
        if c.seq > p {
            if let Some((n_line, n_seq, n_prev, _)) = la.next {
                if n_seq == p + 1 && n_prev == self.last_hash() && c.seq >= n_seq {
                    return at(
                        ReorderedEntries,
                        line,
                        c.seq,
                        format!(
                            "the checkpoint for entry {} comes before entry {n_seq} (line {n_line}); it belongs right after entry {}",
                            c.seq, c.seq
                        ),
                    );
                }
            }
            let missing = if c.seq == p + 1 {
                format!("entry {} is missing", p + 1)
            } else {
                format!("entries {}..{} are missing", p + 1, c.seq)
            };
            return at(
                DeletedEntry,
                line,
                p + 1,
                format!(
                    "{missing}: the checkpoint on line {line} covers entries up to {} but the last entry before it is {p}",
                    c.seq
                ),
            );
        }
        if c.seq < p {
            if let (Some((_, n_seq, n_prev, _)), Some(last)) = (la.next, self.last) {
                if n_seq == p + 1 && n_prev == last.hash {
                    return at(
                        ReorderedEntries,
                        line,
                        c.seq,
                        format!(
                            "the checkpoint for entry {} comes after entry {p}; it belongs right after entry {}",
                            c.seq, c.seq
                        ),
                    );
                }
            }
            if let Some(&(ins_line, _)) = self.recent.iter().find(|(_, s)| *s == c.seq + 1) {
                return at(
                    InsertedEntry,
                    ins_line,
                    c.seq + 1,
                    format!(
                        "entries {}..{p} stand before the checkpoint of line {line}, which covers only up to entry {}: inserted",
                        c.seq + 1,
                        c.seq
                    ),
                );
            }
            return at(
                ReorderedEntries,
                line,
                c.seq,
                format!(
                    "the checkpoint for entry {} appears after entry {p}: out of order or replayed",
                    c.seq
                ),
            );
        }
        // c.seq == p: the checkpoint is in place; does it agree?
        let head = self.last_hash();
        if c.entry_hash != head {
            return match self.last {
                Some(l) => at(
                    CheckpointMismatch,
                    l.line,
                    l.seq,
                    format!(
                        "entry {} hashes to {} but the checkpoint on line {line} signed {}: this entry was changed (or the chain before it was rewritten and re-hashed)",
                        l.seq, l.hash, c.entry_hash
                    ),
                ),
                None => at(
                    CheckpointMismatch,
                    line,
                    c.seq,
                    format!(
                        "the header gives {head} as the hash of entry {} but the checkpoint signed {}",
                        c.seq, c.entry_hash
                    ),
                ),
            };
        }
        let root = self.frontier.root();
        if c.tree_root != root {
            return at(
                CheckpointMismatch,
                line,
                c.seq,
                format!(
                    "the Merkle root of entries 1..{} is {root} but the checkpoint signed {}",
                    c.seq, c.tree_root
                ),
            );
        }
        if let Some(l) = self.last.as_mut() {
            l.vouched = true;
        }
        self.checkpoints += 1;
        self.covered_through = c.seq;
        self.last_checkpoint = Some(CheckpointInfo {
            seq: c.seq,
            line,
            time: c.time,
            key_id: c.key_id.clone(),
            tree_root: c.tree_root,
        });
        Ok(())
    }

    fn finish(mut self) -> Report {
        self.drain(true);
        if self.problem.is_none() && self.header.is_none() {
            self.problem = Some(missing_header(1, "no line at all"));
        }
        let since = self.header.as_ref().map_or(1, |h| h.since);
        let last_seq = self.last.map(|l| l.seq);
        let uncovered = last_seq.map_or(0, |s| s.saturating_sub(self.covered_through));
        let mut warnings = Vec::new();
        if self.header.is_some() && self.key_source == KeySource::Header && self.checkpoints > 0 {
            warnings.push(
                "checkpoint signatures were checked with the key listed in the file itself, which proves only that the file is self-consistent: pass --key with the server's published key (GET /api/v1/audit/key) to prove the server signed it"
                    .to_string(),
            );
        }
        if let Some(last) = last_seq {
            if self.checkpoints == 0 {
                warnings.push(format!(
                    "no checkpoint in the file: entries {}..{last} are chained but signed by nothing, so a rewritten log would not be noticed",
                    self.first_seq.unwrap_or(since)
                ));
            } else if uncovered > 0 {
                warnings.push(format!(
                    "{uncovered} entries after the last checkpoint ({}..{last}) are signed by no checkpoint: changes to them, or entries removed after them, cannot be detected",
                    self.covered_through + 1
                ));
            }
        }
        if since > 1 {
            let anchor = match &self.last_checkpoint {
                Some(c) => format!(
                    "anchored by the checkpoint for entry {} (line {})",
                    c.seq, c.line
                ),
                None => "not anchored by any checkpoint in the file".to_string(),
            };
            warnings.push(format!(
                "partial verification from entry {since}: entries before it are not in the file; the start state in the header is {anchor}"
            ));
        }
        Report {
            valid: self.problem.is_none(),
            partial_from: (since > 1).then_some(since),
            lines: self.lines,
            entries: self.entries,
            checkpoints: self.checkpoints,
            first_seq: self.first_seq,
            last_seq,
            head_hash: self.last.map(|l| l.hash),
            tree_root: last_seq.map(|_| self.frontier.root()),
            last_checkpoint: self.last_checkpoint,
            uncovered_entries: uncovered,
            key_source: self.key_source,
            key_ids: self.keys.iter().map(|k| k.key_id().clone()).collect(),
            warnings,
            problem: self.problem,
        }
    }
}

fn missing_header(line: u64, found: &str) -> Problem {
    Problem::new(
        ProblemKind::MissingHeader,
        line,
        None,
        format!(
            "the first line must be the export header ({{\"type\":\"header\",\"format\":\"{FORMAT_NAME}\",…}}), found {found}"
        ),
    )
}

// ---------------------------------------------------------------------------
// Drivers.

/// Verifies an export fed in pieces, on the caller's thread: for bodies
/// that arrive asynchronously (an HTTP response stream). Memory stays
/// bounded by the longest line plus a short lookahead.
pub struct StreamVerifier {
    checker: Checker,
    partial: Vec<u8>,
    next_line: u64,
    overlong: bool,
}

impl StreamVerifier {
    /// A verifier with these options (`threads` is ignored).
    pub fn new(options: &VerifyOptions) -> StreamVerifier {
        StreamVerifier {
            checker: Checker::new(options),
            partial: Vec::new(),
            next_line: 1,
            overlong: false,
        }
    }

    /// Whether a problem was found (more input changes nothing).
    pub fn is_done(&self) -> bool {
        self.checker.done()
    }

    /// Feeds the next bytes of the export.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.checker.done() {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    if self.partial.is_empty() {
                        self.line(&data[..i]);
                    } else {
                        let mut line = std::mem::take(&mut self.partial);
                        line.extend_from_slice(&data[..i]);
                        self.line(&line);
                    }
                    data = &data[i + 1..];
                }
                None => {
                    self.partial.extend_from_slice(data);
                    if self.partial.len() > MAX_LINE_BYTES {
                        self.overlong = true;
                        let line = std::mem::take(&mut self.partial);
                        self.line(&line);
                    }
                    return;
                }
            }
        }
    }

    fn line(&mut self, bytes: &[u8]) {
        let n = self.next_line;
        self.next_line += 1;
        self.checker.lines = n;
        let item = if bytes.len() > MAX_LINE_BYTES || self.overlong {
            Item::Bad(too_long(n))
        } else {
            parse_line(n, bytes)
        };
        self.checker.push(item);
    }

    /// Records that reading the input failed here.
    pub fn read_error(&mut self, error: &io::Error) {
        let line = self.next_line;
        self.checker.push(Item::Bad(Problem::new(
            ProblemKind::Io,
            line,
            None,
            format!("reading the export: {error}"),
        )));
    }

    /// Ends the input and returns the report.
    pub fn finish(mut self) -> Report {
        if !self.partial.is_empty() && !self.checker.done() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        self.checker.finish()
    }
}

fn too_long(line: u64) -> Problem {
    Problem {
        kind: ProblemKind::Malformed,
        line,
        column: Some(1),
        seq: None,
        message: format!("line is longer than {MAX_LINE_BYTES} bytes"),
    }
}

/// Bytes handed to a worker at a time.
const CHUNK_BYTES: usize = 256 * 1024;

struct Chunk {
    index: u64,
    first_line: u64,
    data: Vec<u8>,
    /// Ends the input with a problem at the line after the chunk's lines.
    trailer: Option<Problem>,
}

struct ParsedChunk {
    index: u64,
    first_line: u64,
    lines: u64,
    items: Vec<Item>,
}

fn parse_chunk(chunk: Chunk) -> ParsedChunk {
    let mut items = Vec::with_capacity(chunk.data.len() / 200 + 1);
    let mut line = chunk.first_line;
    let mut rest = chunk.data.as_slice();
    while !rest.is_empty() {
        let (piece, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        items.push(if piece.len() > MAX_LINE_BYTES {
            Item::Bad(too_long(line))
        } else {
            parse_line(line, piece)
        });
        line += 1;
        rest = next;
    }
    if let Some(p) = chunk.trailer {
        items.push(Item::Bad(p));
    }
    ParsedChunk {
        index: chunk.index,
        first_line: chunk.first_line,
        lines: line - chunk.first_line,
        items,
    }
}

/// Reads the input into chunks of whole lines.
fn read_chunks<R: Read>(mut reader: R, tx: mpsc::SyncSender<Chunk>, stop: &AtomicBool) {
    let mut carry: Vec<u8> = Vec::new();
    let mut first_line = 1u64;
    let mut index = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut buf = std::mem::take(&mut carry);
        let target = (buf.len() + 64 * 1024).max(CHUNK_BYTES);
        let mut eof = false;
        let mut error = None;
        while buf.len() < target {
            let old = buf.len();
            buf.resize(target, 0);
            match reader.read(&mut buf[old..]) {
                Ok(0) => {
                    buf.truncate(old);
                    eof = true;
                    break;
                }
                Ok(n) => buf.truncate(old + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(old),
                Err(e) => {
                    buf.truncate(old);
                    error = Some(e);
                    break;
                }
            }
        }
        let cut = if eof || error.is_some() {
            // A read error leaves the partial line unread: drop it, the
            // error is reported at its line.
            if error.is_some() {
                buf.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
            } else {
                buf.len()
            }
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None if buf.len() > MAX_LINE_BYTES => {
                    let _ = tx.send(Chunk {
                        index,
                        first_line,
                        data: Vec::new(),
                        trailer: Some(too_long(first_line)),
                    });
                    return;
                }
                None => {
                    carry = buf;
                    continue;
                }
            }
        };
        carry = buf.split_off(cut);
        let mut lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        if buf.last().is_some_and(|&b| b != b'\n') {
            lines += 1;
        }
        let trailer = error.map(|e| {
            Problem::new(
                ProblemKind::Io,
                first_line + lines,
                None,
                format!("reading the export: {e}"),
            )
        });
        let last = eof || trailer.is_some();
        if tx
            .send(Chunk {
                index,
                first_line,
                data: buf,
                trailer,
            })
            .is_err()
        {
            return;
        }
        first_line += lines;
        index += 1;
        if last {
            return;
        }
    }
}

/// Verifies an export read from `reader` (a file, stdin, an HTTP body),
/// parsing and hashing on worker threads while this thread checks the chain
/// in order. Reads the input once; memory is bounded by a few chunks in
/// flight (about 256 KB each per thread). Stops reading at the first problem.
pub fn verify_reader<R: Read + Send>(reader: R, options: &VerifyOptions) -> Report {
    let threads = match options.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4),
        n => n,
    };
    if threads <= 1 {
        return verify_sequential(reader, options);
    }
    let mut checker = Checker::new(options);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (work_tx, work_rx) = mpsc::sync_channel::<Chunk>(threads * 2);
        let (done_tx, done_rx) = mpsc::sync_channel::<ParsedChunk>(threads * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let stop = &stop;
        s.spawn(move || read_chunks(reader, work_tx, stop));
        for _ in 0..threads {
            let rx = Arc::clone(&work_rx);
            let tx = done_tx.clone();
            s.spawn(move || loop {
                let next = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(chunk) = next else { return };
                if tx.send(parse_chunk(chunk)).is_err() {
                    return;
                }
            });
        }
        drop(work_rx);
        drop(done_tx);
        // Chunks come back in any order; check them in input order.
        let mut pending: BTreeMap<u64, ParsedChunk> = BTreeMap::new();
        let mut next = 0u64;
        'outer: while let Ok(parsed) = done_rx.recv() {
            pending.insert(parsed.index, parsed);
            while let Some(chunk) = pending.remove(&next) {
                next += 1;
                checker.lines = (chunk.first_line + chunk.lines).saturating_sub(1);
                for item in chunk.items {
                    checker.push(item);
                    if checker.done() {
                        break 'outer;
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        drop(done_rx);
    });
    checker.finish()
}

fn verify_sequential<R: Read>(mut reader: R, options: &VerifyOptions) -> Report {
    let mut v = StreamVerifier::new(options);
    let mut buf = vec![0u8; 64 * 1024];
    while !v.is_done() {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => v.feed(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                v.read_error(&e);
                break;
            }
        }
    }
    v.finish()
}
