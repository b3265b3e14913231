//! Log entries, their hash, and the appender the server calls.

use crate::digest::Digest;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// Domain separation tag that starts every entry-hash input (23 bytes with
/// its terminating NUL), so an entry hash can never equal a hash of another
/// kind of object.
pub const ENTRY_HASH_DOMAIN: &[u8] = b"arbiter.audit.entry.v1\0";

/// Highest sequence number: entries and checkpoints beyond it are refused
/// (it is also the largest SQL `BIGINT`), so no arithmetic on a sequence
/// number can overflow.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// Longest actor or subject accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 512;
/// Longest action accepted, in bytes.
pub const MAX_ACTION_BYTES: usize = 128;

/// One record of the audit log.
///
/// `hash` = [`entry_hash`] of the other fields; `prev_hash` is the previous
/// entry's `hash` ([`Digest::ZERO`] for entry 1). Sequence numbers start at 1
/// and have no gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Position in the log, from 1, gap-free.
    pub seq: u64,
    /// When the event happened (RFC 3339 UTC, milliseconds).
    pub time: Timestamp,
    /// Who did it: `user:alice`, `agent:ci-bot`, `system`.
    pub actor: String,
    /// What was done: `change_request.submitted`, `policy.updated`, …
    pub action: String,
    /// What it was done to: `change_request:42`, `stack:payments-prod`.
    pub subject: String,
    /// SHA-256 of the RFC 8785 encoding of the event payload
    /// ([`crate::payload_digest`]); the payload itself is stored apart.
    pub payload_digest: Digest,
    /// The previous entry's hash.
    pub prev_hash: Digest,
    /// This entry's hash.
    pub hash: Digest,
}

/// The event to record, before it has a place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// When the event happened.
    pub time: Timestamp,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub subject: String,
    /// Digest of the payload ([`crate::payload_digest`]).
    pub payload_digest: Digest,
}

/// The end of the chain: the last entry's sequence number and hash, or
/// [`ChainHead::GENESIS`] for an empty log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    /// Sequence number of the last entry (0 for an empty log).
    pub seq: u64,
    /// Hash of the last entry ([`Digest::ZERO`] for an empty log).
    pub hash: Digest,
}

/// Why an entry cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The actor, action or subject is unacceptable.
    #[error("{field} {value:?}: {reason}")]
    InvalidField {
        /// `actor`, `action` or `subject`.
        field: &'static str,
        /// The value (cut to 80 characters).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The log has reached [`MAX_SEQ`] entries.
    #[error("the log is full: sequence number {0} has no successor")]
    SequenceExhausted(u64),
}

impl ChainHead {
    /// The head of an empty log: entry 1 links to it.
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        hash: Digest::ZERO,
    };

    /// The entry that follows this head. Pure and cheap (one SHA-256 over a
    /// few hundred bytes): the server calls it inside the transaction that
    /// makes the change, with the head read in that same transaction, and
    /// inserts the result; a concurrent writer that took the same head fails
    /// on the unique sequence number and retries.
    pub fn next(&self, new: NewEntry) -> Result<Entry, EntryError> {
        validate_fields(&new.actor, &new.action, &new.subject)?;
        if self.seq >= MAX_SEQ {
            return Err(EntryError::SequenceExhausted(self.seq));
        }
        let seq = self.seq + 1;
        let time_text = new.time.to_string();
        let hash = entry_hash(
            seq,
            &time_text,
            &new.actor,
            &new.action,
            &new.subject,
            &new.payload_digest,
            &self.hash,
        );
        Ok(Entry {
            seq,
            time: new.time,
            actor: new.actor,
            action: new.action,
            subject: new.subject,
            payload_digest: new.payload_digest,
            prev_hash: self.hash,
            hash,
        })
    }
}

impl Entry {
    /// The hash this entry's fields give (compare with `self.hash`).
    pub fn compute_hash(&self) -> Digest {
        entry_hash(
            self.seq,
            &self.time.to_string(),
            &self.actor,
            &self.action,
            &self.subject,
            &self.payload_digest,
            &self.prev_hash,
        )
    }

    /// The chain head after this entry.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash,
        }
    }

    /// This entry's leaf in the Merkle tree: `SHA-256(0x00 || hash)`.
    pub fn leaf_hash(&self) -> Digest {
        crate::merkle::leaf_hash(self.hash.as_bytes())
    }
}

/// The entry hash:
///
/// ```text
/// SHA-256( "arbiter.audit.entry.v1" 0x00
///          u64be(seq)
///          u32be(len(time))    time      -- the 24-byte RFC 3339 text
///          u32be(len(actor))   actor     -- UTF-8
///          u32be(len(action))  action
///          u32be(len(subject)) subject
///          payload_digest                -- 32 raw bytes
///          prev_hash )                   -- 32 raw bytes
/// ```
///
/// Every variable-length field is length-prefixed, so no two different
/// entries encode to the same bytes.
pub fn entry_hash(
    seq: u64,
    time: &str,
    actor: &str,
    action: &str,
    subject: &str,
    payload_digest: &Digest,
    prev_hash: &Digest,
) -> Digest {
    let mut h = sha2::Sha256::new();
    h.update(ENTRY_HASH_DOMAIN);
    h.update(seq.to_be_bytes());
    for text in [time, actor, action, subject] {
        // `validate_fields` bounds every field far below 4 GiB, so the
        // 32-bit length is exact for every entry the appender or the
        // verifier accepts.
        h.update((text.len() as u32).to_be_bytes());
        h.update(text.as_bytes());
    }
    h.update(payload_digest.as_bytes());
    h.update(prev_hash.as_bytes());
    Digest(h.finalize().into())
}

/// Checks actor, action and subject. Actor and subject: 1 to
/// [`MAX_TEXT_BYTES`] bytes, no control characters. Action: 1 to
/// [`MAX_ACTION_BYTES`] bytes of dot-separated words of `a-z 0-9 _`
/// (`change_request.submitted`).
pub fn validate_fields(actor: &str, action: &str, subject: &str) -> Result<(), EntryError> {
    let invalid = |field, value: &str, reason| EntryError::InvalidField {
        field,
        value: value.chars().take(80).collect(),
        reason,
    };
    for (field, value) in [("actor", actor), ("subject", subject)] {
        if value.is_empty() {
            return Err(invalid(field, value, "must not be empty"));
        }
        if value.len() > MAX_TEXT_BYTES {
            return Err(invalid(field, value, "longer than 512 bytes"));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid(field, value, "contains a control character"));
        }
    }
    if action.is_empty() {
        return Err(invalid("action", action, "must not be empty"));
    }
    if action.len() > MAX_ACTION_BYTES {
        return Err(invalid("action", action, "longer than 128 bytes"));
    }
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if !action.split('.').all(word_ok) {
        return Err(invalid(
            "action",
            action,
            "must be dot-separated words of a-z, 0-9 and _ (e.g. change_request.submitted)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn new(actor: &str, action: &str, subject: &str) -> NewEntry {
        NewEntry {
            time: Timestamp::parse("2025-03-01T12:00:00.000Z").unwrap(),
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            payload_digest: Digest::sha256(b"{}"),
        }
    }

    #[test]
    fn appender_links_entries() {
        let e1 = ChainHead::GENESIS
            .next(new(
                "user:alice",
                "change_request.submitted",
                "change_request:42",
            ))
            .unwrap();
        assert_eq!(e1.seq, 1);
        assert_eq!(e1.prev_hash, Digest::ZERO);
        assert_eq!(e1.compute_hash(), e1.hash);
        let e2 = e1
            .head()
            .next(new(
                "system",
                "change_request.evaluated",
                "change_request:42",
            ))
            .unwrap();
        assert_eq!(e2.seq, 2);
        assert_eq!(e2.prev_hash, e1.hash);
        assert_ne!(e2.hash, e1.hash);
    }

    #[test]
    fn hash_input_is_length_prefixed() {
        // Moving a byte from one field to the next changes the hash.
        let d = Digest::ZERO;
        let a = entry_hash(1, "t", "ab", "c", "s", &d, &d);
        let b = entry_hash(1, "t", "a", "bc", "s", &d, &d);
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_bad_fields() {
        let head = ChainHead::GENESIS;
        for (n, want) in [
            (new("", "a.b", "s"), "actor \"\": must not be empty"),
            (new("user:x\n", "a.b", "s"), "actor \"user:x\\n\": contains a control character"),
            (new("u", "Change.Submitted", "s"), "action \"Change.Submitted\": must be dot-separated words of a-z, 0-9 and _ (e.g. change_request.submitted)"),
            (new("u", "a..b", "s"), "action \"a..b\": must be dot-separated words of a-z, 0-9 and _ (e.g. change_request.submitted)"),
            (new("u", "a.b", &"x".repeat(513)), "longer than 512 bytes"),
        ] {
            let err = head.next(n).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        let full = ChainHead {
            seq: MAX_SEQ,
            hash: Digest::ZERO,
        };
        assert_eq!(
            full.next(new("u", "a", "s")).unwrap_err(),
            EntryError::SequenceExhausted(MAX_SEQ)
        );
    }
}
