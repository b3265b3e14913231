//! The outcome of a verification: the problem found (kind, line, column,
//! sequence number) or a summary of what was verified, and the options.

use crate::digest::Digest;
use crate::keys::{AuditPublicKey, KeyId};
use crate::time::Timestamp;
use serde::Serialize;

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
    pub(super) fn new(kind: ProblemKind, line: u64, seq: Option<u64>, message: String) -> Problem {
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
