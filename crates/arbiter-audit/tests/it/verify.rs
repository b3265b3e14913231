//! The verifier on hostile and unusual input: malformed lines (located by
//! line and column), headers, partial exports, oversized lines, read errors,
//! and the push-based driver fed in arbitrary pieces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_audit::{
    verify_reader, write_sample_log, AuditSigningKey, Digest, ProblemKind, Report, StreamVerifier,
    VerifyOptions,
};
use proptest::prelude::*;
use std::io::Read;

fn key() -> AuditSigningKey {
    AuditSigningKey::from_seed(&[3; 32])
}

fn sample(entries: u64, every: u64, since: u64) -> String {
    let mut out = Vec::new();
    write_sample_log(&mut out, &key(), entries, every, since).unwrap();
    String::from_utf8(out).unwrap()
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        trusted_keys: vec![key().public_key()],
        threads: 2,
    }
}

fn check(text: &str) -> Report {
    verify_reader(text.as_bytes(), &opts())
}

fn problem(text: &str) -> arbiter_audit::Problem {
    check(text).problem.expect("a problem")
}

fn with_line(text: &str, index: usize, new: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines[index] = new;
    lines.join("\n") + "\n"
}

#[test]
fn malformed_lines_are_located() {
    let log = sample(20, 5, 1);
    let lines: Vec<&str> = log.lines().collect();
    let cases: Vec<(String, &str, Option<u64>)> = vec![
        ("not json".into(), "expected ident", Some(2)),
        ("".into(), "empty line", Some(1)),
        (
            "{\"type\":\"entry\"".into(),
            "EOF while parsing an object",
            None,
        ),
        (
            "{\"seq\":1}".into(),
            "line without a \"type\" field",
            Some(1),
        ),
        (
            "{\"type\":\"note\",\"seq\":1}".into(),
            "unknown line type \"note\"",
            Some(2),
        ),
        (
            lines[3].replacen("\"actor\"", "\"actr\"", 1),
            "unknown field `actr`",
            None,
        ),
        (
            lines[3].replacen("{", "{\"signature\":\"AAAA\",", 1),
            "field `signature` does not belong in an entry line",
            Some(2),
        ),
        (
            lines[3].replacen(",\"hash\":", ",\"hush\":", 1),
            "unknown field `hush`",
            None,
        ),
        (
            lines[3].replacen("T00:00:0", "T00:00:", 1),
            "field `time`: expected a UTC time",
            None,
        ),
        (
            lines[3].replacen("\"prev_hash\":\"", "\"prev_hash\":\"X", 1),
            "field `prev_hash`: a digest is 64 lowercase hex digits",
            None,
        ),
        (
            lines[3].replacen("\"actor\":\"", "\"actor\":\"\\u0007", 1),
            "field actor",
            None,
        ),
        (
            lines[3].replacen("\"seq\":3", "\"seq\":-3", 1),
            "invalid value: integer `-3`",
            None,
        ),
        (
            lines[3].replacen("\"seq\":3", "\"seq\":0", 1),
            "seq must be between 1 and 9223372036854775807",
            None,
        ),
    ];
    for (line, want, column) in cases {
        let p = problem(&with_line(&log, 3, &line));
        assert_eq!(p.kind, ProblemKind::Malformed, "{line}: {p}");
        assert_eq!(p.line, 4, "{line}: {p}");
        assert!(p.message.contains(want), "{line}: {p}");
        assert!(p.column.is_some(), "{line}: {p}");
        if let Some(c) = column {
            assert_eq!(p.column, Some(c), "{line}: {p}");
        }
    }
    // A field error points at its field.
    let bad_time = lines[3].replacen("T00:00:0", "T00:00:", 1);
    let p = problem(&with_line(&log, 3, &bad_time));
    let col = bad_time.find("\"time\"").unwrap() as u64 + 1;
    assert_eq!(p.column, Some(col), "{p}");
}

#[test]
fn header_problems() {
    let log = sample(10, 5, 1);
    let lines: Vec<&str> = log.lines().collect();
    let body = lines[1..].join("\n") + "\n";
    // No header at all.
    let p = problem(&body);
    assert_eq!((p.kind, p.line), (ProblemKind::MissingHeader, 1), "{p}");
    let r = check("");
    assert_eq!(r.problem.unwrap().kind, ProblemKind::MissingHeader);
    // Another format or version.
    let p = problem(&with_line(
        &log,
        0,
        &lines[0].replace("arbiter-audit-export", "other"),
    ));
    assert_eq!(p.kind, ProblemKind::UnsupportedFormat, "{p}");
    let p = problem(&with_line(
        &log,
        0,
        &lines[0].replace("\"version\":1", "\"version\":2"),
    ));
    assert_eq!(p.kind, ProblemKind::UnsupportedFormat, "{p}");
    assert!(p.message.contains("version 2 is not supported"), "{p}");
    // A full export must start from zeros and an empty tree.
    let p = problem(&with_line(
        &log,
        0,
        &lines[0].replace("\"since\":1", "\"since\":2"),
    ));
    assert!(
        p.message
            .contains("start.seq is 0 but must be since - 1 = 1"),
        "{p}"
    );
    // A second header.
    let twice = format!("{}\n{}", lines[0], log);
    let p = problem(&twice);
    assert_eq!((p.kind, p.line), (ProblemKind::Malformed, 2), "{p}");
    // A key whose id does not match.
    let k = key().public_key().key_id().to_string();
    let bad = lines[0].replace(&k, &"0".repeat(64));
    let p = problem(&with_line(&log, 0, &bad));
    assert!(p.message.contains("does not match the public key"), "{p}");
}

#[test]
fn partial_exports_start_from_the_header_state() {
    let full = sample(300, 40, 1);
    let part = sample(300, 40, 101);
    let r = check(&part);
    assert!(r.valid, "{:?}", r.problem);
    assert_eq!(r.partial_from, Some(101));
    assert_eq!(
        (r.first_seq, r.last_seq, r.entries),
        (Some(101), Some(300), 200)
    );
    let rf = check(&full);
    assert_eq!(r.head_hash, rf.head_hash);
    assert_eq!(r.tree_root, rf.tree_root);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("partial verification from entry 101")));

    // A forged start hash: the first entry no longer links.
    let header: serde_json::Value = serde_json::from_str(part.lines().next().unwrap()).unwrap();
    let start = header["start"]["hash"].as_str().unwrap().to_string();
    let forged = part.replacen(&start, &Digest::sha256(b"x").to_hex(), 1);
    let p = problem(&forged);
    assert_eq!(
        (p.kind, p.line, p.seq),
        (ProblemKind::BrokenChain, 2, Some(101)),
        "{p}"
    );
    // A forged tree state: caught by the first checkpoint (entry 120).
    let node = header["tree"]["nodes"][0].as_str().unwrap().to_string();
    let forged = part.replacen(&node, &Digest::sha256(b"y").to_hex(), 1);
    let p = problem(&forged);
    assert_eq!(
        (p.kind, p.seq),
        (ProblemKind::CheckpointMismatch, Some(120)),
        "{p}"
    );
    assert!(p.message.contains("Merkle root of entries 1..120"), "{p}");
}

#[test]
fn oversized_lines_and_read_errors_are_reported() {
    let log = sample(5, 5, 1);
    let huge = format!(
        "{}{}\n",
        log,
        "x".repeat(arbiter_audit::verify::MAX_LINE_BYTES + 10)
    );
    for threads in [1, 2] {
        let r = verify_reader(huge.as_bytes(), &VerifyOptions { threads, ..opts() });
        let p = r.problem.unwrap();
        assert_eq!((p.kind, p.line), (ProblemKind::Malformed, 8), "{p}");
        assert!(p.message.contains("longer than"), "{p}");
    }

    /// Fails after handing out some bytes.
    struct Failing<'a>(&'a [u8]);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    for threads in [1, 2] {
        let r = verify_reader(
            Failing(log.as_bytes()),
            &VerifyOptions { threads, ..opts() },
        );
        let p = r.problem.unwrap();
        assert_eq!(p.kind, ProblemKind::Io, "{p}");
        assert!(p.message.contains("disk on fire"), "{p}");
    }
    // Non-UTF-8 inside a string.
    let mut bytes = log.clone().into_bytes();
    let at = log
        .find("agent:")
        .unwrap_or_else(|| log.find("system").unwrap());
    bytes[at] = 0xff;
    let r = verify_reader(bytes.as_slice(), &opts());
    assert_eq!(r.problem.unwrap().kind, ProblemKind::Malformed);
}

#[test]
fn without_trusted_keys_the_header_key_is_used_and_said_so() {
    let log = sample(30, 10, 1);
    let r = verify_reader(log.as_bytes(), &VerifyOptions::default());
    assert!(r.valid);
    assert_eq!(r.key_source, arbiter_audit::KeySource::Header);
    assert!(
        r.warnings[0].contains("key listed in the file itself"),
        "{:?}",
        r.warnings
    );
    // No checkpoints at all: valid chain, loudly unsigned.
    let log = sample(30, 0, 1);
    let unsigned: String = log
        .lines()
        .filter(|l| !l.contains("\"type\":\"checkpoint\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let r = check(&unsigned);
    assert!(r.valid);
    assert_eq!(r.uncovered_entries, 30);
    assert!(
        r.warnings[0].starts_with("no checkpoint in the file"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn sequence_numbers_beyond_the_maximum_are_refused() {
    let log = sample(3, 3, 1);
    let lines: Vec<&str> = log.lines().collect();
    let big = lines[1].replacen("\"seq\":1,", "\"seq\":18446744073709551615,", 1);
    let p = problem(&with_line(&log, 1, &big));
    assert_eq!((p.kind, p.line), (ProblemKind::Malformed, 2), "{p}");
    let header = lines[0].replacen("\"since\":1", "\"since\":18446744073709551615", 1);
    let p = problem(&with_line(&log, 0, &header));
    assert!(p.message.contains("since must be between 1 and"), "{p}");
}

/// Damaged input of any kind (bytes replaced, lines dropped, repeated or
/// moved) never panics, and both drivers agree on what they report.
fn damage(log: &str, ops: &[(u8, usize, u8)]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = log.lines().map(|l| l.as_bytes().to_vec()).collect();
    for &(op, at, byte) in ops {
        let n = lines.len();
        if n == 0 {
            break;
        }
        let i = at % n;
        match op % 4 {
            0 => {
                let l = &mut lines[i];
                if !l.is_empty() {
                    let j = (at / n) % l.len();
                    l[j] = byte;
                }
            }
            1 => {
                lines.remove(i);
            }
            2 => {
                let l = lines[i].clone();
                lines.insert((at / 7) % n, l);
            }
            _ => lines.swap(i, (at / 3) % n),
        }
    }
    let mut out = lines.join(&b'\n');
    out.push(b'\n');
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn damaged_input_never_panics(ops in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..6)) {
        let log = sample(30, 6, 1);
        let bytes = damage(&log, &ops);
        let a = verify_reader(bytes.as_slice(), &VerifyOptions { threads: 1, ..opts() });
        let b = verify_reader(bytes.as_slice(), &VerifyOptions { threads: 2, ..opts() });
        prop_assert_eq!(a.problem, b.problem);
        prop_assert_eq!(a.entries, b.entries);
    }

    /// Feeding the push-based verifier in arbitrary pieces gives the same
    /// report as the threaded reader, for intact and damaged logs.
    #[test]
    fn stream_verifier_is_chunking_independent(
        cuts in prop::collection::vec(1usize..400, 1..60),
        damage in prop::option::of(0usize..6000),
    ) {
        let mut log = sample(40, 7, 1).into_bytes();
        if let Some(at) = damage {
            let at = at % log.len();
            log[at] = if log[at] == b'1' { b'2' } else { b'1' };
        }
        let reference = verify_reader(log.as_slice(), &opts());
        let mut v = StreamVerifier::new(&opts());
        let mut rest = log.as_slice();
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            v.feed(&rest[..n]);
            rest = &rest[n..];
            i += 1;
        }
        let r = v.finish();
        prop_assert_eq!(r.valid, reference.valid);
        prop_assert_eq!(r.problem, reference.problem);
        prop_assert_eq!(r.entries, reference.entries);
        prop_assert_eq!(r.head_hash, reference.head_hash);
    }
}
