//! Every single-entry tamper of an exported log is caught and located.
//!
//! A real log of 300 entries with a checkpoint every 25 (and one at the
//! head) is generated with the same appender, tree and signing code the
//! server uses; then, for EVERY entry: each field is modified (with and
//! without recomputing its hash), the entry is deleted, duplicated, a forged
//! entry is inserted after it (two ways), and it is swapped with the next
//! entry. Each time the verifier must fail and name the right line and
//! sequence number. Checkpoints are tampered with too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_audit::{
    entry_hash, verify_reader, write_sample_log, AuditPublicKey, AuditSigningKey, Digest,
    ProblemKind, Report, Timestamp, VerifyOptions,
};
use serde_json::{json, Value};

const ENTRIES: u64 = 300;
const EVERY: u64 = 25;

struct Log {
    lines: Vec<String>,
    key: AuditPublicKey,
}

impl Log {
    fn new() -> Log {
        let key = AuditSigningKey::from_seed(&[7; 32]);
        let mut out = Vec::new();
        write_sample_log(&mut out, &key, ENTRIES, EVERY, 1).unwrap();
        let lines = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        Log {
            lines,
            key: key.public_key(),
        }
    }

    fn value(&self, i: usize) -> Value {
        serde_json::from_str(&self.lines[i]).unwrap()
    }

    fn kind(&self, i: usize) -> String {
        self.value(i)["type"].as_str().unwrap().to_string()
    }

    /// (0-based line index, seq) of every entry line.
    fn entries(&self) -> Vec<(usize, u64)> {
        (0..self.lines.len())
            .filter(|&i| self.kind(i) == "entry")
            .map(|i| (i, self.value(i)["seq"].as_u64().unwrap()))
            .collect()
    }

    fn checkpoints(&self) -> Vec<usize> {
        (0..self.lines.len())
            .filter(|&i| self.kind(i) == "checkpoint")
            .collect()
    }
}

fn verify_with(lines: &[String], key: &AuditPublicKey, threads: usize) -> Report {
    let text = lines.join("\n") + "\n";
    verify_reader(
        text.as_bytes(),
        &VerifyOptions {
            trusted_keys: vec![key.clone()],
            threads,
        },
    )
}

fn verify(lines: &[String], key: &AuditPublicKey) -> Report {
    verify_with(lines, key, 1)
}

/// Asserts the report names this problem at this (1-based) line and seq.
#[track_caller]
fn assert_located(report: &Report, what: &str, kind: Option<ProblemKind>, line: usize, seq: u64) {
    let p = report
        .problem
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: not detected"));
    assert!(!report.valid, "{what}");
    assert_eq!(p.line, line as u64, "{what}: wrong line in: {p}");
    assert_eq!(p.seq, Some(seq), "{what}: wrong seq in: {p}");
    if let Some(kind) = kind {
        assert_eq!(p.kind, kind, "{what}: wrong kind in: {p}");
    }
}

fn rehash(v: &mut Value) {
    let d = |k: &str| Digest::from_hex(v[k].as_str().unwrap()).unwrap();
    let h = entry_hash(
        v["seq"].as_u64().unwrap(),
        v["time"].as_str().unwrap(),
        v["actor"].as_str().unwrap(),
        v["action"].as_str().unwrap(),
        v["subject"].as_str().unwrap(),
        &d("payload_digest"),
        &d("prev_hash"),
    );
    v["hash"] = json!(h.to_hex());
}

fn flip_hex(s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    c[10] = if c[10] == '0' { '1' } else { '0' };
    c.into_iter().collect()
}

fn modify(v: &mut Value, field: &str) {
    match field {
        "seq" => v["seq"] = json!(v["seq"].as_u64().unwrap() + 1000),
        "time" => {
            let t = Timestamp::parse(v["time"].as_str().unwrap()).unwrap();
            v["time"] = json!(Timestamp::from_unix_millis(t.unix_millis() + 1)
                .unwrap()
                .to_string());
        }
        "actor" | "action" | "subject" => {
            let s = format!("{}x", v[field].as_str().unwrap());
            v[field] = json!(s);
        }
        _ => {
            let s = flip_hex(v[field].as_str().unwrap());
            v[field] = json!(s);
        }
    }
}

const ENTRY_FIELDS: [&str; 8] = [
    "seq",
    "time",
    "actor",
    "action",
    "subject",
    "payload_digest",
    "prev_hash",
    "hash",
];

#[test]
fn untampered_log_verifies() {
    let log = Log::new();
    for threads in [1, 2, 3] {
        let r = verify_with(&log.lines, &log.key, threads);
        assert!(r.valid, "{:?}", r.problem);
        assert_eq!(r.entries, ENTRIES);
        assert_eq!(r.checkpoints, ENTRIES / EVERY);
        assert_eq!((r.first_seq, r.last_seq), (Some(1), Some(ENTRIES)));
        assert_eq!(r.uncovered_entries, 0);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }
}

#[test]
fn every_field_of_every_entry_modified_without_rehash() {
    let log = Log::new();
    for (i, seq) in log.entries() {
        for field in ENTRY_FIELDS {
            let mut lines = log.lines.clone();
            let mut v = log.value(i);
            modify(&mut v, field);
            let stated = v["seq"].as_u64().unwrap();
            lines[i] = v.to_string();
            let r = verify(&lines, &log.key);
            assert_located(
                &r,
                &format!("entry {seq} field {field}"),
                Some(ProblemKind::ModifiedEntry),
                i + 1,
                stated,
            );
        }
    }
}

#[test]
fn every_field_of_every_entry_modified_and_rehashed() {
    let log = Log::new();
    for (i, seq) in log.entries() {
        for field in ENTRY_FIELDS.iter().filter(|f| **f != "hash") {
            let mut lines = log.lines.clone();
            let mut v = log.value(i);
            modify(&mut v, field);
            rehash(&mut v);
            lines[i] = v.to_string();
            let r = verify(&lines, &log.key);
            let what = format!("entry {seq} field {field} re-hashed");
            // Whatever the category, the culprit is this entry.
            assert_located(&r, &what, None, i + 1, seq);
            let kind = r.problem.as_ref().unwrap().kind;
            let expected: &[ProblemKind] = match *field {
                "seq" => &[ProblemKind::DeletedEntry],
                "prev_hash" => &[ProblemKind::BrokenChain],
                _ => &[ProblemKind::ModifiedEntry, ProblemKind::CheckpointMismatch],
            };
            assert!(expected.contains(&kind), "{what}: {kind:?}");
        }
    }
}

#[test]
fn every_entry_deleted() {
    let log = Log::new();
    for (i, seq) in log.entries() {
        let mut lines = log.lines.clone();
        lines.remove(i);
        let r = verify(&lines, &log.key);
        assert_located(
            &r,
            &format!("entry {seq} deleted"),
            Some(ProblemKind::DeletedEntry),
            i + 1,
            seq,
        );
    }
}

#[test]
fn every_entry_duplicated_or_followed_by_a_forged_entry() {
    let log = Log::new();
    for (i, seq) in log.entries() {
        // An exact copy right after it.
        let mut lines = log.lines.clone();
        lines.insert(i + 1, log.lines[i].clone());
        let r = verify(&lines, &log.key);
        assert_located(
            &r,
            &format!("entry {seq} duplicated"),
            Some(ProblemKind::InsertedEntry),
            i + 2,
            seq,
        );

        // A forged entry claiming the same seq, properly hashed.
        let mut lines = log.lines.clone();
        let mut f = log.value(i);
        f["action"] = json!("review.approved_forged");
        rehash(&mut f);
        lines.insert(i + 1, f.to_string());
        let r = verify(&lines, &log.key);
        assert_located(
            &r,
            &format!("forged copy of entry {seq} inserted after it"),
            Some(ProblemKind::InsertedEntry),
            i + 2,
            seq,
        );

        // A forged entry that extends the chain from this one (seq + 1,
        // linked to its hash, properly hashed): accepted on its own; the
        // real next entry or the checkpoint exposes it.
        let mut lines = log.lines.clone();
        let orig = log.value(i);
        let mut f = orig.clone();
        f["seq"] = json!(seq + 1);
        f["prev_hash"] = orig["hash"].clone();
        f["actor"] = json!("user:mallory");
        rehash(&mut f);
        lines.insert(i + 1, f.to_string());
        let r = verify(&lines, &log.key);
        assert_located(
            &r,
            &format!("forged entry {} inserted after entry {seq}", seq + 1),
            Some(ProblemKind::InsertedEntry),
            i + 2,
            seq + 1,
        );
    }
}

#[test]
fn every_entry_swapped_with_the_next() {
    let log = Log::new();
    let entries = log.entries();
    for w in entries.windows(2) {
        let ((i, seq), (j, _)) = (w[0], w[1]);
        let mut lines = log.lines.clone();
        lines.swap(i, j);
        let r = verify(&lines, &log.key);
        assert_located(
            &r,
            &format!("entry {seq} swapped with entry {}", seq + 1),
            Some(ProblemKind::ReorderedEntries),
            i + 1,
            seq + 1,
        );
    }
}

/// The parallel driver finds exactly what the sequential one finds.
#[test]
fn parallel_and_sequential_drivers_agree() {
    let log = Log::new();
    for (i, seq) in log.entries().into_iter().step_by(7) {
        for tamper in 0..3 {
            let mut lines = log.lines.clone();
            match tamper {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let mut v = log.value(i);
                    modify(&mut v, "subject");
                    rehash(&mut v);
                    lines[i] = v.to_string();
                }
                _ => {
                    lines.insert(i + 1, log.lines[i].clone());
                }
            }
            let a = verify_with(&lines, &log.key, 1).problem;
            let b = verify_with(&lines, &log.key, 2).problem;
            assert!(a.is_some(), "entry {seq} tamper {tamper}");
            assert_eq!(a, b, "entry {seq} tamper {tamper}");
        }
    }
}

#[test]
fn every_checkpoint_field_tampered() {
    let log = Log::new();
    for i in log.checkpoints() {
        let orig = log.value(i);
        let seq = orig["seq"].as_u64().unwrap();
        for field in [
            "seq",
            "entry_hash",
            "tree_root",
            "time",
            "key_id",
            "signature",
        ] {
            let mut v = orig.clone();
            match field {
                "seq" => v["seq"] = json!(seq + 1),
                "time" => {
                    let t = Timestamp::parse(v["time"].as_str().unwrap()).unwrap();
                    v["time"] = json!(Timestamp::from_unix_millis(t.unix_millis() + 1000)
                        .unwrap()
                        .to_string());
                }
                "signature" => {
                    use base64::Engine as _;
                    let b64 = base64::engine::general_purpose::STANDARD;
                    let mut sig = b64.decode(v["signature"].as_str().unwrap()).unwrap();
                    sig[5] ^= 1;
                    v["signature"] = json!(b64.encode(sig));
                }
                _ => {
                    let s = flip_hex(v[field].as_str().unwrap());
                    v[field] = json!(s);
                }
            }
            let mut lines = log.lines.clone();
            lines[i] = v.to_string();
            let r = verify(&lines, &log.key);
            let kind = if field == "key_id" {
                ProblemKind::UnknownKey
            } else {
                ProblemKind::BadCheckpointSignature
            };
            let stated = v["seq"].as_u64().unwrap();
            assert_located(
                &r,
                &format!("checkpoint {seq} field {field}"),
                Some(kind),
                i + 1,
                stated,
            );
        }

        // Moved before the entry it covers.
        let mut lines = log.lines.clone();
        lines.swap(i - 1, i);
        let r = verify(&lines, &log.key);
        assert_located(
            &r,
            &format!("checkpoint {seq} moved up"),
            Some(ProblemKind::ReorderedEntries),
            i,
            seq,
        );

        // Signed by another key (an attacker who rewrote the header too).
        let forger = AuditSigningKey::from_seed(&[9; 32]);
        let c = forger.sign_checkpoint(
            seq,
            Digest::from_hex(orig["entry_hash"].as_str().unwrap()).unwrap(),
            Digest::from_hex(orig["tree_root"].as_str().unwrap()).unwrap(),
            Timestamp::parse(orig["time"].as_str().unwrap()).unwrap(),
        );
        let mut v = serde_json::to_value(&c).unwrap();
        v["type"] = json!("checkpoint");
        let mut lines = log.lines.clone();
        lines[i] = v.to_string();
        let r = verify(&lines, &log.key);
        assert_located(
            &r,
            &format!("checkpoint {seq} re-signed"),
            Some(ProblemKind::UnknownKey),
            i + 1,
            seq,
        );
    }
}

/// Changing an entry and re-hashing the whole chain after it defeats the
/// chain, not the signed checkpoints: the first checkpoint after the change
/// disagrees, and the change is placed between it and the one before.
#[test]
fn rewritten_chain_suffix_is_caught_by_the_next_checkpoint() {
    let log = Log::new();
    for (i, seq) in log.entries().into_iter().step_by(13) {
        let mut lines = log.lines.clone();
        let mut v = log.value(i);
        v["actor"] = json!("user:mallory");
        rehash(&mut v);
        let mut prev = v["hash"].clone();
        lines[i] = v.to_string();
        for line in lines.iter_mut().skip(i + 1) {
            let mut w: Value = serde_json::from_str(line).unwrap();
            if w["type"] == "entry" {
                w["prev_hash"] = prev.clone();
                rehash(&mut w);
                prev = w["hash"].clone();
                *line = w.to_string();
            }
        }
        let r = verify(&lines, &log.key);
        let p = r.problem.expect("rewrite detected");
        assert_eq!(p.kind, ProblemKind::CheckpointMismatch, "{p}");
        let covering = seq.div_ceil(EVERY) * EVERY;
        assert_eq!(p.seq, Some(covering.min(ENTRIES)), "{p}");
        assert_eq!(
            r.last_checkpoint.map_or(0, |c| c.seq),
            (seq - 1) / EVERY * EVERY
        );
    }
}

#[test]
fn deleted_checkpoints_and_truncation_only_reduce_coverage() {
    let log = Log::new();
    let cps = log.checkpoints();
    // A middle checkpoint removed: still valid, the others cover it.
    let mut lines = log.lines.clone();
    lines.remove(cps[3]);
    let r = verify(&lines, &log.key);
    assert!(r.valid, "{:?}", r.problem);
    assert_eq!(r.checkpoints, ENTRIES / EVERY - 1);
    // Cut after entry 290: the last 10 entries and the final checkpoint are
    // gone; what is left is valid but the tail is not covered.
    let (cut, _) = log.entries()[289];
    let r = verify(&log.lines[..=cut], &log.key);
    assert!(r.valid, "{:?}", r.problem);
    assert_eq!(r.last_seq, Some(290));
    assert_eq!(r.uncovered_entries, 15);
    assert!(
        r.warnings[0].starts_with("15 entries after the last checkpoint (276..290)"),
        "{:?}",
        r.warnings
    );
    // Cut in the middle of a line.
    let mut text = log.lines[..=cut].join("\n");
    text.truncate(text.len() - 20);
    let r = verify_reader(
        text.as_bytes(),
        &VerifyOptions {
            trusted_keys: vec![log.key.clone()],
            threads: 2,
        },
    );
    let p = r.problem.unwrap();
    assert_eq!(
        (p.kind, p.line),
        (ProblemKind::Malformed, cut as u64 + 1),
        "{p}"
    );
}
