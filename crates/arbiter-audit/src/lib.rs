//! The verifiable audit log of Arbiter.
//!
//! Every event the server records becomes an [`Entry`] in one hash chain:
//! each entry's `hash` is SHA-256 over a length-prefixed, domain-separated
//! encoding of its fields ([`entry_hash`]), which include the previous
//! entry's hash. Every N entries or T seconds the server signs a
//! [`Checkpoint`] (Ed25519): the sequence number, the entry hash there and
//! the RFC 6962 Merkle root over all entry hashes so far ([`merkle`]).
//! An export ([`export`]) is JSON lines: a header, entries, and checkpoints
//! where they were made; [`verify_reader`] / [`StreamVerifier`] check one
//! offline and locate the first modified, deleted, inserted or reordered
//! entry. The byte-level specification, with a worked example, is
//! `docs/audit-log.md`.
//!
//! How the server uses it, inside the transaction that makes a change:
//!
//! ```
//! use arbiter_audit::{payload_digest, AuditSigningKey, ChainHead, MerkleFrontier, NewEntry, Timestamp};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = AuditSigningKey::generate()?;             // once; kept as PKCS#8 PEM
//! let head = ChainHead::GENESIS;                      // or the last row's (seq, hash)
//! let payload = serde_json::json!({"change_request": 42, "plan_sha256": "…"});
//! let entry = head.next(NewEntry {
//!     time: Timestamp::now(),
//!     actor: "agent:ci-bot".into(),
//!     action: "change_request.submitted".into(),
//!     subject: "change_request:42".into(),
//!     payload_digest: payload_digest(&payload)?,
//! })?;
//! // INSERT entry (and the payload) in the same transaction as the change.
//! let mut tree = MerkleFrontier::new();               // kept up to date beside the log
//! tree.push_entry_hash(&entry.hash);
//! let checkpoint = key.sign_checkpoint(entry.seq, entry.hash, tree.root(), Timestamp::now());
//! assert!(checkpoint.verify(&key.public_key()));
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: no I/O of its own beyond the `Read`/`Write` it is
//! handed, no async, no database; the server owns storage and transactions.

pub mod canonical;
pub mod checkpoint;
pub mod digest;
pub mod entry;
pub mod export;
pub mod keys;
pub mod merkle;
pub mod time;
pub mod verify;

pub use canonical::{canonical_json, payload_digest, CanonicalError};
pub use checkpoint::{checkpoint_message, Checkpoint, CheckpointPolicy, CheckpointSignature};
pub use digest::{Digest, DigestParseError};
pub use entry::{entry_hash, ChainHead, Entry, EntryError, NewEntry};
pub use export::{
    write_sample_log, ExportHeader, ExportWriter, SampleLog, FORMAT_NAME, FORMAT_VERSION,
};
pub use keys::{AuditPublicKey, AuditSigningKey, KeyError, KeyId, PublicKeyDocument};
pub use merkle::{MerkleError, MerkleFrontier, MerkleTree};
pub use time::{Timestamp, TimestampError};
pub use verify::{
    verify_reader, CheckpointInfo, KeySource, Problem, ProblemKind, Report, StreamVerifier,
    VerifyOptions,
};
