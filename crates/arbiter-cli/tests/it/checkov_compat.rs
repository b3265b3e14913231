#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Checkov compatibility suite: recall and precision of the built-in rule pack
//! against Checkov's verdicts on the same plans.
//!
//! The Checkov side is a recording, `tests/checkov/results.json` (produced by
//! `tests/checkov/record.sh`, see `tests/checkov/PROVENANCE.md`), so this test
//! runs without Python. The Arbiter side is the real binary:
//! `arbiter evaluate FILE --format json` on every recorded plan (with the
//! scenario's `.stack.toml` when there is one) and `arbiter rules list --format
//! json` for the rules' `checkov` metadata.
//!
//! * **Recall** (fails on a miss): for every failure of a check listed in
//!   `tests/checkov/critical.json` there must be a built-in finding at the same
//!   address from a rule that lists that check ID in its `checkov` metadata (or,
//!   when no rule lists it, any built-in finding there). Entries of
//!   `tests/checkov/known_gaps.json` are tolerated and printed as KNOWN GAP; an
//!   entry that now passes fails the test so that the list only shrinks.
//! * **Precision** (informational): deny/escalate built-in findings at
//!   addresses where Checkov reports no failure at all are printed as possible
//!   false positives.
//! * **Hygiene** (fails): no rule with effect deny or escalate may list a check
//!   of `tests/checkov/hygiene.json` (logging, versioning, replication, DLQ,
//!   tracing, retention, tags...).
//!
//! See the tables with `cargo test -p arbiter-cli --test it checkov_compat:: -- --nocapture`.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace's `tests/` directory.
const TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests");

fn tests_dir() -> &'static Path {
    Path::new(TESTS)
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn checkov_file(name: &str) -> Value {
    read_json(&tests_dir().join("checkov").join(name))
}

fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string {key:?} in {v}"))
        .to_string()
}

fn array<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("missing array {key:?}"))
}

/// A fixture path as recorded (`tests/fixtures/...`) turned into a real path.
fn fixture_path(recorded: &str) -> PathBuf {
    let rel = recorded
        .strip_prefix("tests/")
        .unwrap_or_else(|| panic!("fixture path {recorded:?} does not start with tests/"));
    tests_dir().join(rel)
}

fn short(recorded: &str) -> &str {
    recorded.rsplit('/').next().unwrap_or(recorded)
}

// ---------------------------------------------------------------------------
// The recording

/// One FAILED Checkov check at one address.
#[derive(Clone, Debug)]
struct Failure {
    check_id: String,
    address: String,
    check_name: String,
}

struct Fixture {
    /// As recorded: `tests/fixtures/terraform/plans/NAME.json`.
    file: String,
    /// Every address Checkov evaluated (passed or failed).
    evaluated: BTreeSet<String>,
    failed: Vec<Failure>,
}

struct Recording {
    version: String,
    fixtures: Vec<Fixture>,
}

fn recording() -> &'static Recording {
    static REC: OnceLock<Recording> = OnceLock::new();
    REC.get_or_init(|| {
        let v = checkov_file("results.json");
        let fixtures = array(&v, "fixtures")
            .iter()
            .map(|f| Fixture {
                file: str_of(f, "file"),
                evaluated: array(f, "evaluated")
                    .iter()
                    .map(|a| a.as_str().expect("address").to_string())
                    .collect(),
                failed: array(f, "failed")
                    .iter()
                    .map(|c| Failure {
                        check_id: str_of(c, "check_id"),
                        address: str_of(c, "address"),
                        check_name: str_of(c, "check_name"),
                    })
                    .collect(),
            })
            .collect();
        Recording {
            version: str_of(&v, "checkov_version"),
            fixtures,
        }
    })
}

fn id_set(file: &str, key: &str) -> BTreeSet<String> {
    array(&checkov_file(file), key)
        .iter()
        .map(|e| str_of(e, "check_id"))
        .collect()
}

fn critical_ids() -> BTreeSet<String> {
    id_set("critical.json", "checks")
}

fn hygiene_ids() -> BTreeSet<String> {
    id_set("hygiene.json", "hygiene")
}

/// `(fixture file, check id, address)` -> reason.
fn known_gaps() -> BTreeMap<(String, String, String), String> {
    array(&checkov_file("known_gaps.json"), "gaps")
        .iter()
        .map(|g| {
            (
                (
                    str_of(g, "fixture"),
                    str_of(g, "check_id"),
                    str_of(g, "address"),
                ),
                str_of(g, "reason"),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The Arbiter side

struct Rule {
    effect: String,
    checkov: Vec<String>,
}

/// `arbiter rules list --format json`, built-in rules only, by ID.
fn rules() -> &'static BTreeMap<String, Rule> {
    static RULES: OnceLock<BTreeMap<String, Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_arbiter"))
            .args(["rules", "list", "--format", "json"])
            .env("NO_COLOR", "1")
            .output()
            .expect("running arbiter rules list");
        assert!(
            out.status.success(),
            "arbiter rules list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("rules list JSON");
        v.as_array()
            .expect("rules list is an array")
            .iter()
            .filter(|r| r["builtin"].as_bool() != Some(false))
            .map(|r| {
                let checkov = r["checkov"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    str_of(r, "id"),
                    Rule {
                        effect: str_of(r, "effect"),
                        checkov,
                    },
                )
            })
            .collect()
    })
}

/// Checkov check ID -> the built-in rules that list it in `checkov`.
fn claims() -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, rule) in rules() {
        for c in &rule.checkov {
            map.entry(c.clone()).or_default().insert(id.clone());
        }
    }
    map
}

#[derive(Clone, Debug)]
struct Finding {
    rule_id: String,
    source: String,
    effect: String,
    address: Option<String>,
    relation: String,
    message: String,
}

impl Finding {
    /// A built-in finding about the planned state (not one the change fixes).
    fn is_current_builtin(&self) -> bool {
        self.source == "builtin" && self.relation != "fixed"
    }
}

type Evaluation = Result<Vec<Finding>, String>;

/// Runs `arbiter evaluate PLAN --format json` (plus the scenario's stack file).
fn evaluate(recorded: &str) -> Evaluation {
    let plan = fixture_path(recorded);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arbiter"));
    cmd.arg("evaluate").arg(&plan);
    if let Some(stem) = plan.to_str().and_then(|p| p.strip_suffix(".plan.json")) {
        let stack = PathBuf::from(format!("{stem}.stack.toml"));
        if stack.exists() {
            cmd.arg("--stack").arg(stack);
        }
    }
    let out = cmd
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .env_remove("ARBITER_MAX_PLAN_BYTES")
        .output()
        .expect("running arbiter evaluate");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal error"),
        "arbiter crashed on {recorded}: {stderr}"
    );
    match out.status.code() {
        Some(0 | 2 | 3) => {}
        code => return Err(format!("exit {code:?}: {}", stderr.trim())),
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("arbiter evaluate {recorded}: stdout is not JSON ({e})"));
    Ok(array(&v, "findings")
        .iter()
        .map(|f| Finding {
            rule_id: str_of(f, "rule_id"),
            source: str_of(f, "source"),
            effect: str_of(f, "effect"),
            address: f["address"].as_str().map(str::to_string),
            relation: f["relation"].as_str().unwrap_or("").to_string(),
            message: f["message"].as_str().unwrap_or("").to_string(),
        })
        .collect())
}

struct Evaluations {
    by_fixture: BTreeMap<String, Evaluation>,
    took: Duration,
}

/// Every recorded fixture evaluated once (two worker threads), shared by the tests.
fn evaluations() -> &'static Evaluations {
    static EVALS: OnceLock<Evaluations> = OnceLock::new();
    EVALS.get_or_init(|| {
        let start = Instant::now();
        let files: Vec<&str> = recording()
            .fixtures
            .iter()
            .map(|f| f.file.as_str())
            .collect();
        let half = files.len().div_ceil(2);
        let by_fixture = std::thread::scope(|s| {
            let workers: Vec<_> = files
                .chunks(half.max(1))
                .map(|chunk| {
                    s.spawn(move || {
                        chunk
                            .iter()
                            .map(|f| (f.to_string(), evaluate(f)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("evaluation worker"))
                .collect()
        });
        Evaluations {
            by_fixture,
            took: start.elapsed(),
        }
    })
}

// ---------------------------------------------------------------------------
// Printing

/// Prints rows as a left-aligned table under `header`.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.to_string()
                } else {
                    format!("{c:<width$}", width = widths[i])
                }
            })
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(header.to_vec());
    let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(rules.iter().map(String::as_str).collect());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn critical_checkov_failures_have_arbiter_findings() {
    let rec = recording();
    let critical = critical_ids();
    let claims = claims();
    let gaps = known_gaps();
    let evals = evaluations();

    let mut rows = Vec::new();
    let (mut passed, mut failed, mut tolerated) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    let mut stale_gaps = Vec::new();
    let mut fixtures_with_critical = 0usize;

    for fx in &rec.fixtures {
        let wanted: Vec<&Failure> = fx
            .failed
            .iter()
            .filter(|c| critical.contains(&c.check_id))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        fixtures_with_critical += 1;
        let eval = &evals.by_fixture[&fx.file];
        for c in wanted {
            let claimed = claims.get(&c.check_id);
            let (found, at_address): (BTreeSet<String>, BTreeSet<String>) = match eval {
                Ok(findings) => {
                    let here: Vec<&Finding> = findings
                        .iter()
                        .filter(|f| {
                            f.is_current_builtin() && f.address.as_deref() == Some(&c.address)
                        })
                        .collect();
                    let found = here
                        .iter()
                        .filter(|f| claimed.is_none_or(|rules| rules.contains(&f.rule_id)))
                        .map(|f| f.rule_id.clone())
                        .collect();
                    (found, here.iter().map(|f| f.rule_id.clone()).collect())
                }
                Err(_) => (BTreeSet::new(), BTreeSet::new()),
            };
            let key = (fx.file.clone(), c.check_id.clone(), c.address.clone());
            let gap = gaps.get(&key);
            let status = match (found.is_empty(), gap) {
                (false, None) => {
                    passed += 1;
                    "PASS"
                }
                (false, Some(_)) => {
                    passed += 1;
                    stale_gaps.push(key.clone());
                    "PASS (stale known gap)"
                }
                (true, Some(_)) => {
                    tolerated += 1;
                    "KNOWN GAP"
                }
                (true, None) => {
                    failed += 1;
                    misses.push((fx.file.clone(), c.clone()));
                    "MISS"
                }
            };
            let shown = if !found.is_empty() && claimed.is_none() {
                format!(
                    "{} (no rule claims {}: any built-in finding counts)",
                    join(&found),
                    c.check_id
                )
            } else if !found.is_empty() {
                join(&found)
            } else {
                let mut s = match eval {
                    Err(e) => format!("arbiter error: {e}"),
                    Ok(_) if at_address.is_empty() => "none at this address".to_string(),
                    Ok(_) => format!("none mapped (at this address: {})", join(&at_address)),
                };
                match claimed {
                    Some(rules) => s.push_str(&format!("; claimed by {}", join(rules))),
                    None => s.push_str("; no rule claims this check"),
                }
                if let Some(reason) = gap {
                    s.push_str(&format!("; gap: {reason}"));
                }
                s
            };
            rows.push(vec![
                status.to_string(),
                short(&fx.file).to_string(),
                c.check_id.clone(),
                c.address.clone(),
                shown,
            ]);
        }
    }

    println!(
        "Checkov {} recall on {} fixtures ({} with critical failures); arbiter evaluate of all {} fixtures took {:.2?}",
        rec.version,
        rec.fixtures.len(),
        fixtures_with_critical,
        evals.by_fixture.len(),
        evals.took
    );
    print_table(
        &[
            "status",
            "fixture",
            "check",
            "address",
            "arbiter rule(s) found",
        ],
        &rows,
    );
    if !misses.is_empty() {
        println!("\nMisses:");
        for (file, c) in &misses {
            println!(
                "  {} {} ({}) at {}",
                short(file),
                c.check_id,
                c.check_name,
                c.address
            );
        }
    }
    println!("{tolerated} known gaps tolerated (tests/checkov/known_gaps.json)");
    println!("recall: {passed} passed, {failed} failed");

    assert!(
        stale_gaps.is_empty(),
        "these known gaps now pass; remove them from tests/checkov/known_gaps.json: {stale_gaps:?}"
    );
    assert!(
        misses.is_empty(),
        "{failed} critical Checkov failures have no matching Arbiter finding (see the table above)"
    );
}

#[test]
fn blocking_findings_without_checkov_failure_are_listed() {
    let rec = recording();
    let evals = evaluations();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut blocking = 0usize;
    for fx in &rec.fixtures {
        let failing: BTreeSet<&str> = fx.failed.iter().map(|c| c.address.as_str()).collect();
        let findings = match &evals.by_fixture[&fx.file] {
            Ok(f) => f,
            Err(e) => {
                errors.push(format!("{}: {e}", short(&fx.file)));
                continue;
            }
        };
        for f in findings {
            if !f.is_current_builtin() || !matches!(f.effect.as_str(), "deny" | "escalate") {
                continue;
            }
            blocking += 1;
            let Some(address) = f.address.as_deref() else {
                continue;
            };
            if failing.contains(address) {
                continue;
            }
            let checkov = if fx.evaluated.contains(address) {
                "all checks passed"
            } else {
                "not evaluated"
            };
            rows.push(vec![
                short(&fx.file).to_string(),
                f.rule_id.clone(),
                f.effect.clone(),
                address.to_string(),
                checkov.to_string(),
                f.message.clone(),
            ]);
        }
    }
    println!(
        "Possible false positives: {} of {} deny/escalate built-in findings are at addresses where Checkov {} reports no failure",
        rows.len(),
        blocking,
        rec.version
    );
    if !rows.is_empty() {
        print_table(
            &["fixture", "rule", "effect", "address", "checkov", "message"],
            &rows,
        );
    }
    if !errors.is_empty() {
        println!("Not evaluated by arbiter: {}", errors.join("; "));
    }
    // Informational only: Checkov is not the reference for every rule
    // (GPU cost, environment-dependent effects...).
    assert!(
        errors.len() < rec.fixtures.len(),
        "arbiter could not evaluate any fixture"
    );
}

#[test]
fn hygiene_checks_never_map_to_blocking_rules() {
    let hygiene = hygiene_ids();
    let mut offenders = Vec::new();
    for (id, rule) in rules() {
        if !matches!(rule.effect.as_str(), "deny" | "escalate") {
            continue;
        }
        for c in &rule.checkov {
            if hygiene.contains(c) {
                offenders.push(format!("{id} ({}) lists hygiene check {c}", rule.effect));
            }
        }
    }
    println!(
        "{} hygiene checks, {} deny/escalate rules checked",
        hygiene.len(),
        rules()
            .values()
            .filter(|r| matches!(r.effect.as_str(), "deny" | "escalate"))
            .count()
    );
    assert!(
        offenders.is_empty(),
        "hygiene-only Checkov checks must map to info/warn rules only: {offenders:?}"
    );
}

/// Whole-word, case-insensitive match of `word` in `text`.
fn has_word(text: &str, word: &str) -> bool {
    let text = text.to_lowercase();
    let word = word.to_lowercase();
    let mut from = 0;
    while let Some(pos) = text[from..].find(&word) {
        let start = from + pos;
        let end = start + word.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphabetic());
        if boundary(before) && boundary(after) {
            return true;
        }
        from = start + 1;
        while !text.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

#[test]
fn checkov_lists_are_grounded() {
    let rec = recording();
    assert!(
        !rec.version.is_empty(),
        "results.json names no Checkov version"
    );

    // Every plan fixture is recorded (re-run tests/checkov/record.sh after adding one).
    let mut on_disk = BTreeSet::new();
    for (dir, suffix) in [
        ("fixtures/terraform/plans", ".json"),
        ("scenarios", ".plan.json"),
    ] {
        for entry in std::fs::read_dir(tests_dir().join(dir)).expect("fixture dir") {
            let name = entry.expect("dir entry").file_name();
            let name = name.to_str().expect("UTF-8 name");
            if name.ends_with(suffix) {
                on_disk.insert(format!("tests/{dir}/{name}"));
            }
        }
    }
    let recorded: BTreeSet<String> = rec.fixtures.iter().map(|f| f.file.clone()).collect();
    let unrecorded: Vec<_> = on_disk.difference(&recorded).collect();
    assert!(
        unrecorded.is_empty(),
        "plans without a Checkov recording (run tests/checkov/record.sh): {unrecorded:?}"
    );
    let vanished: Vec<_> = recorded.difference(&on_disk).collect();
    assert!(
        vanished.is_empty(),
        "recorded plans that no longer exist: {vanished:?}"
    );

    // critical.json: each ID occurs in the recording or is claimed by a rule.
    let occurring: BTreeSet<&str> = rec
        .fixtures
        .iter()
        .flat_map(|f| f.failed.iter().map(|c| c.check_id.as_str()))
        .collect();
    let claims = claims();
    let critical = critical_ids();
    let ungrounded: Vec<_> = critical
        .iter()
        .filter(|id| !occurring.contains(id.as_str()) && !claims.contains_key(*id))
        .collect();
    assert!(
        ungrounded.is_empty(),
        "critical.json IDs neither in results.json nor in any rule's checkov metadata: {ungrounded:?}"
    );

    // hygiene.json: disjoint from critical.json, and complete for the recording.
    let hygiene_file = checkov_file("hygiene.json");
    let hygiene = hygiene_ids();
    let overlap: Vec<_> = hygiene.intersection(&critical).collect();
    assert!(
        overlap.is_empty(),
        "checks both critical and hygiene: {overlap:?}"
    );
    let not_hygiene = id_set("hygiene.json", "not_hygiene");
    let keywords: Vec<String> = array(&hygiene_file, "keywords")
        .iter()
        .map(|k| k.as_str().expect("keyword").to_string())
        .collect();
    let mut unclassified = BTreeSet::new();
    for c in rec.fixtures.iter().flat_map(|f| &f.failed) {
        if keywords.iter().any(|k| has_word(&c.check_name, k))
            && !hygiene.contains(&c.check_id)
            && !not_hygiene.contains(&c.check_id)
        {
            unclassified.insert(format!("{} ({})", c.check_id, c.check_name));
        }
    }
    assert!(
        unclassified.is_empty(),
        "checks whose names match a hygiene keyword but are in neither hygiene nor not_hygiene of hygiene.json: {unclassified:?}"
    );

    // known_gaps.json: each entry is a recorded critical failure.
    for (fixture, check, address) in known_gaps().keys() {
        assert!(
            critical.contains(check),
            "known gap {check} is not a critical check"
        );
        let exists = rec.fixtures.iter().any(|f| {
            &f.file == fixture
                && f.failed
                    .iter()
                    .any(|c| &c.check_id == check && &c.address == address)
        });
        assert!(
            exists,
            "known gap ({fixture}, {check}, {address}) is not in results.json"
        );
    }
}

/// The walk of Checkov's AWS checks: every AWS check of Checkov's catalogue
/// (`tests/checkov/checks.json`, recorded from `checkov --list`) is accounted
/// for exactly once: a built-in rule lists it in its `checkov` metadata, or
/// `hygiene.json` classifies it as hygiene, or `known_gaps.json` lists it under
/// `not_covered` with a reason. A rule that starts covering a gap must take it
/// out of `not_covered`, so the gap list only shrinks.
#[test]
fn every_checkov_aws_check_is_accounted_for() {
    let catalogue = checkov_file("checks.json");
    assert_eq!(
        str_of(&catalogue, "checkov_version"),
        recording().version,
        "checks.json and results.json come from different Checkov versions"
    );
    let all: BTreeSet<String> = array(&catalogue, "checks")
        .iter()
        .map(|c| str_of(c, "check_id"))
        .collect();
    assert!(
        all.len() > 400,
        "only {} AWS checks in checks.json",
        all.len()
    );
    let claims = claims();
    let hygiene = hygiene_ids();
    let gaps_file = checkov_file("known_gaps.json");
    let mut not_covered = BTreeSet::new();
    let mut problems = Vec::new();
    for g in array(&gaps_file, "not_covered") {
        let id = str_of(g, "check_id");
        if str_of(g, "reason").trim().is_empty() || str_of(g, "check_name").trim().is_empty() {
            problems.push(format!(
                "{id}: not_covered entry without check_name or reason"
            ));
        }
        if !all.contains(&id) {
            problems.push(format!("{id}: not_covered but not in checks.json"));
        }
        if let Some(rules) = claims.get(&id) {
            problems.push(format!(
                "{id}: covered by {} now; remove it from known_gaps.json not_covered",
                join(rules)
            ));
        }
        if hygiene.contains(&id) {
            problems.push(format!("{id}: both hygiene and not_covered"));
        }
        if !not_covered.insert(id.clone()) {
            problems.push(format!("{id}: listed twice in not_covered"));
        }
    }
    let mut unaccounted = Vec::new();
    for id in &all {
        if !claims.contains_key(id) && !hygiene.contains(id) && !not_covered.contains(id) {
            unaccounted.push(id.clone());
        }
    }
    let covered = all.iter().filter(|id| claims.contains_key(*id)).count();
    println!(
        "{} Checkov AWS checks: {covered} covered by rules, {} hygiene, {} not covered",
        all.len(),
        all.iter()
            .filter(|id| hygiene.contains(*id) && !claims.contains_key(*id))
            .count(),
        not_covered.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        unaccounted.is_empty(),
        "Checkov AWS checks neither claimed by a rule, nor in hygiene.json, nor in known_gaps.json not_covered: {unaccounted:?}"
    );
}
