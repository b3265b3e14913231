//! Signed checkpoints: the server's statement "the log had these `seq`
//! entries, the last one hashing to `entry_hash`, and their Merkle tree has
//! root `tree_root`".

use crate::digest::Digest;
use crate::keys::{AuditPublicKey, AuditSigningKey, KeyId};
use crate::time::Timestamp;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// Domain separation tag that starts every signed checkpoint message.
pub const CHECKPOINT_DOMAIN: &[u8] = b"arbiter.audit.checkpoint.v1\0";

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Number of entries covered: entries 1..=seq.
    pub seq: u64,
    /// Hash of entry `seq`.
    pub entry_hash: Digest,
    /// RFC 6962 root over the entry hashes of entries 1..=seq.
    pub tree_root: Digest,
    /// When the checkpoint was signed.
    pub time: Timestamp,
    /// Id of the signing key.
    pub key_id: KeyId,
    /// Ed25519 signature of [`checkpoint_message`], standard base64.
    pub signature: CheckpointSignature,
}

/// A 64-byte Ed25519 signature, written as standard base64 with padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointSignature(pub [u8; 64]);

impl Serialize for CheckpointSignature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

impl<'de> Deserialize<'de> for CheckpointSignature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        CheckpointSignature::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

impl CheckpointSignature {
    /// Parses 64 bytes of standard base64.
    pub fn from_base64(text: &str) -> Result<CheckpointSignature, String> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| format!("signature is not base64: {e}"))?;
        let bytes: [u8; 64] = raw.as_slice().try_into().map_err(|_| {
            format!(
                "signature is {} bytes, an Ed25519 signature is 64",
                raw.len()
            )
        })?;
        Ok(CheckpointSignature(bytes))
    }
}

/// The bytes a checkpoint signs:
///
/// ```text
/// "arbiter.audit.checkpoint.v1" 0x00
/// u64be(seq) entry_hash(32) tree_root(32)
/// u32be(len(time)) time          -- the 24-byte RFC 3339 text
/// u32be(len(key_id)) key_id      -- 64 hex characters
/// ```
pub fn checkpoint_message(
    seq: u64,
    entry_hash: &Digest,
    tree_root: &Digest,
    time: &Timestamp,
    key_id: &KeyId,
) -> Vec<u8> {
    let time = time.to_string();
    let mut m = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 8 + 64 + 8 + time.len() + 64);
    m.extend_from_slice(CHECKPOINT_DOMAIN);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(entry_hash.as_bytes());
    m.extend_from_slice(tree_root.as_bytes());
    for text in [time.as_str(), key_id.as_str()] {
        m.extend_from_slice(&(text.len() as u32).to_be_bytes());
        m.extend_from_slice(text.as_bytes());
    }
    m
}

impl AuditSigningKey {
    /// Signs a checkpoint over entries 1..=seq. `tree_root` is the
    /// [`crate::MerkleFrontier::root`] after pushing entry `seq`'s hash.
    pub fn sign_checkpoint(
        &self,
        seq: u64,
        entry_hash: Digest,
        tree_root: Digest,
        time: Timestamp,
    ) -> Checkpoint {
        let key_id = self.key_id().clone();
        let sig = self.sign(&checkpoint_message(
            seq,
            &entry_hash,
            &tree_root,
            &time,
            &key_id,
        ));
        Checkpoint {
            seq,
            entry_hash,
            tree_root,
            time,
            key_id,
            signature: CheckpointSignature(sig.to_bytes()),
        }
    }
}

impl Checkpoint {
    /// Whether `key` signed this checkpoint (its id must be `key_id` too).
    pub fn verify(&self, key: &AuditPublicKey) -> bool {
        if key.key_id() != &self.key_id {
            return false;
        }
        let msg = checkpoint_message(
            self.seq,
            &self.entry_hash,
            &self.tree_root,
            &self.time,
            &self.key_id,
        );
        key.verify(
            &msg,
            &ed25519_dalek::Signature::from_bytes(&self.signature.0),
        )
    }
}

/// When the server should sign the next checkpoint: after `every_entries`
/// new entries, or once `every` has passed since the last one if any entry
/// came since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Entries between checkpoints (at least 1).
    pub every_entries: u64,
    /// Longest time an entry stays unsigned.
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    /// Every 1000 entries or 60 seconds.
    fn default() -> Self {
        CheckpointPolicy {
            every_entries: 1000,
            every: Duration::from_secs(60),
        }
    }
}

impl CheckpointPolicy {
    /// Whether a checkpoint is due at `head_seq`, given the last checkpoint
    /// (its seq and time; `None` if there is none yet) and the time now.
    /// Never due when nothing new was logged.
    pub fn is_due(&self, last: Option<(u64, Timestamp)>, head_seq: u64, now: Timestamp) -> bool {
        let (last_seq, last_time) = match last {
            Some(l) => l,
            None => return head_seq > 0,
        };
        if head_seq <= last_seq {
            return false;
        }
        head_seq - last_seq >= self.every_entries.max(1)
            || now.unix_millis().saturating_sub(last_time.unix_millis())
                >= u64::try_from(self.every.as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sign_and_verify() {
        let k = AuditSigningKey::generate().unwrap();
        let t = Timestamp::parse("2025-03-01T12:00:00.000Z").unwrap();
        let c = k.sign_checkpoint(7, Digest::sha256(b"e"), Digest::sha256(b"r"), t);
        assert!(c.verify(&k.public_key()));
        let mut bad = c.clone();
        bad.seq = 8;
        assert!(!bad.verify(&k.public_key()));
        let other = AuditSigningKey::generate().unwrap();
        assert!(!c.verify(&other.public_key()));
        let json = serde_json::to_string(&c).unwrap();
        let back: Checkpoint = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn policy() {
        let p = CheckpointPolicy {
            every_entries: 10,
            every: Duration::from_secs(5),
        };
        let t = |s: u64| Timestamp::from_unix_millis(s * 1000).unwrap();
        assert!(!p.is_due(None, 0, t(0)));
        assert!(p.is_due(None, 1, t(0)));
        assert!(!p.is_due(Some((5, t(0))), 5, t(100)));
        assert!(!p.is_due(Some((5, t(0))), 6, t(4)));
        assert!(p.is_due(Some((5, t(0))), 6, t(5)));
        assert!(p.is_due(Some((5, t(0))), 15, t(1)));
    }
}
