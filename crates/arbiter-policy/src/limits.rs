//! Bounds on the work one policy evaluation may do, so that a hostile or
//! buggy policy ends with an error of that policy instead of hanging or
//! killing the process:
//!
//! - **time**: regorus's cooperative execution timer, set for every
//!   evaluation to what is left of the evaluation's budget
//!   ([`Limits::timeout`], default [`DEFAULT_TIMEOUT`]);
//! - **stack**: every evaluation runs on its own thread with a
//!   [`EVAL_STACK_BYTES`] stack; what can nest on it is bounded when policies
//!   are loaded ([`crate::syntax`]: no recursion, reference chains, nesting);
//! - **memory**: builtins that can make a value much larger than their
//!   arguments in one call (`numbers.range`, `net.cidr_expand`, `concat`,
//!   `sprintf`, `replace`, `json.marshal`, …) are wrapped: a call that would
//!   create more than [`MAX_ELEMENTS`] elements or a string over
//!   [`MAX_STRING_BYTES`] fails, and what such calls create in one
//!   evaluation is capped at [`EVAL_BUDGET_BYTES`]. Values built element by
//!   element (comprehensions) are bounded by the time budget. Results are
//!   measured before they are converted ([`value_size`]).
//!
//! regorus's own memory limit (feature `allocator-memory-limits`) is not
//! used: it replaces the process's allocator and its limit is process-wide,
//! so one hostile evaluation would fail every concurrent one.

use crate::error::PolicyError;
use regorus::Value;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Default time budget of one evaluation (a plan's policies, an approval
/// decision, a policy test run's test).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most elements one builtin call may create (`numbers.range`, …).
pub const MAX_ELEMENTS: u64 = 1_000_000;
/// Longest string one builtin call may create.
pub const MAX_STRING_BYTES: u64 = 16 << 20;
/// Bytes the wrapped builtins may create in one evaluation, all calls together.
pub const EVAL_BUDGET_BYTES: u64 = 512 << 20;
/// Stack of an evaluation thread. Reserved address space: only the pages an
/// evaluation touches are used.
pub const EVAL_STACK_BYTES: usize = 256 << 20;
/// Work units between two clock reads of the execution timer.
const CHECK_INTERVAL: u32 = 64;

/// Budgets of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one evaluation.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Limits {
    /// Limits with this timeout.
    pub fn with_timeout(timeout: Duration) -> Limits {
        Limits { timeout }
    }
}

/// An evaluation's deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub(crate) fn start(limits: &Limits) -> Deadline {
        Deadline {
            at: Instant::now() + limits.timeout,
            timeout: limits.timeout,
        }
    }

    /// Arms `engine`'s timer with what is left; fails when nothing is.
    pub(crate) fn arm(&self, engine: &mut regorus::Engine) -> Result<(), String> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.exceeded());
        }
        engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
            limit: left,
            check_interval: std::num::NonZeroU32::MIN.saturating_add(CHECK_INTERVAL - 1),
        });
        Ok(())
    }

    fn exceeded(&self) -> String {
        format!(
            "exceeded the time budget of {} (--policy-timeout)",
            show(self.timeout)
        )
    }

    /// The message for a regorus error: the budget's when it is a limit.
    pub(crate) fn message(&self, e: &anyhow::Error) -> String {
        let text = format!("{e:#}");
        if e.chain().any(|c| {
            matches!(
                c.downcast_ref::<regorus::LimitError>(),
                Some(regorus::LimitError::TimeLimitExceeded { .. })
            )
        }) || text.contains("exceeded time limit")
        {
            return self.exceeded();
        }
        crate::error::first_line(e)
    }
}

fn show(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

thread_local! {
    /// Bytes created by wrapped builtins in this thread's evaluation (every
    /// evaluation has its own thread, see [`on_eval_thread`]).
    static SPENT: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` on a fresh thread with a [`EVAL_STACK_BYTES`] stack (and its own
/// builtin budget), waiting for it.
pub(crate) fn on_eval_thread<T: Send>(
    f: impl FnOnce() -> Result<T, PolicyError> + Send,
) -> Result<T, PolicyError> {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .name("arbiter-rego".into())
            .stack_size(EVAL_STACK_BYTES)
            .spawn_scoped(s, f)
            .map_err(|e| PolicyError::Config(format!("cannot start a policy evaluation: {e}")))?;
        h.join().unwrap_or_else(|_| {
            Err(PolicyError::Config(
                "policy evaluation failed unexpectedly (panic)".into(),
            ))
        })
    })
}

/// Size of `v` in bytes as it would be written out (strings, numbers and 8
/// bytes per element), counting shared parts each time; stops at `limit`
/// and returns `Err(limit)` when it is exceeded.
pub fn value_size(v: &Value, limit: u64) -> Result<u64, u64> {
    let mut total: u64 = 0;
    let mut todo: Vec<&Value> = vec![v];
    while let Some(v) = todo.pop() {
        total = total.saturating_add(match v {
            Value::String(s) => s.len() as u64 + 2,
            Value::Array(a) => {
                todo.extend(a.iter());
                8
            }
            Value::Set(s) => {
                todo.extend(s.iter());
                8
            }
            Value::Object(o) => {
                for (k, x) in o.iter() {
                    todo.push(k);
                    todo.push(x);
                }
                8
            }
            _ => 8,
        });
        if total > limit {
            return Err(limit);
        }
    }
    Ok(total)
}

/// Charges `bytes` to this evaluation's builtin budget.
fn charge(name: &str, bytes: u64) -> anyhow::Result<()> {
    SPENT.with(|s| {
        let now = s.get().saturating_add(bytes);
        s.set(now);
        if now > EVAL_BUDGET_BYTES {
            anyhow::bail!(
                "{name}: this evaluation's builtins created more than {} MiB (policy memory limit)",
                EVAL_BUDGET_BYTES >> 20
            );
        }
        Ok(())
    })
}

fn too_many(name: &str, n: u64) -> anyhow::Result<()> {
    if n > MAX_ELEMENTS {
        anyhow::bail!(
            "{name} would create {n} elements; the policy limit is {MAX_ELEMENTS} per call"
        );
    }
    charge(name, n.saturating_mul(32))
}

fn too_long(name: &str, n: u64) -> anyhow::Result<()> {
    if n > MAX_STRING_BYTES {
        anyhow::bail!(
            "{name} would create a string of more than {} MiB; the policy limit is {} MiB per call",
            n >> 20,
            MAX_STRING_BYTES >> 20
        );
    }
    charge(name, n)
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn str_len(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.len() as u64,
        _ => 0,
    }
}

/// Expanded size of a value, capped just above the string limit.
fn expanded(v: &Value) -> u64 {
    value_size(v, MAX_STRING_BYTES).unwrap_or(MAX_STRING_BYTES + 1)
}

/// What a wrapped builtin would create, checked before it runs.
type Check = fn(&str, &[Value]) -> anyhow::Result<()>;

const GUARDED: &[(&str, u8, Check)] = &[
    ("numbers.range", 2, |n, a| match (num(&a[0]), num(&a[1])) {
        (Some(x), Some(y)) => too_many(n, ((y - x).abs() + 1.0) as u64),
        _ => Ok(()),
    }),
    ("numbers.range_step", 3, |n, a| {
        match (num(&a[0]), num(&a[1]), num(&a[2])) {
            (Some(x), Some(y), Some(s)) if s != 0.0 => {
                too_many(n, ((y - x).abs() / s.abs()) as u64 + 1)
            }
            _ => Ok(()),
        }
    }),
    ("net.cidr_expand", 1, |n, a| {
        let Value::String(s) = &a[0] else {
            return Ok(());
        };
        let bits: u32 = if s.contains(':') { 128 } else { 32 };
        let prefix: u32 = s
            .split_once('/')
            .and_then(|(_, p)| p.trim().parse().ok())
            .unwrap_or(bits);
        let host_bits = bits.saturating_sub(prefix);
        let count = if host_bits >= 63 {
            u64::MAX
        } else {
            1u64 << host_bits
        };
        too_many(n, count)
    }),
    ("array.concat", 2, |n, a| {
        let len = |v: &Value| match v {
            Value::Array(x) => x.len() as u64,
            _ => 0,
        };
        too_many(n, len(&a[0]) + len(&a[1]))
    }),
    ("concat", 2, |n, a| {
        let (items, count): (u64, u64) = match &a[1] {
            Value::Array(x) => (x.iter().map(str_len).sum(), x.len() as u64),
            Value::Set(x) => (x.iter().map(str_len).sum(), x.len() as u64),
            _ => (0, 0),
        };
        too_long(n, items + count * str_len(&a[0]))
    }),
    ("sprintf", 2, |n, a| {
        // Widths and precisions (`%0999999999d`) and the arguments written out.
        let Value::String(f) = &a[0] else {
            return Ok(());
        };
        let mut widths: u64 = 0;
        let mut digits = String::new();
        for c in f.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if !digits.is_empty() {
                widths = widths.saturating_add(digits.parse::<u64>().unwrap_or(u64::MAX));
                digits.clear();
            }
        }
        if !digits.is_empty() {
            widths = widths.saturating_add(digits.parse::<u64>().unwrap_or(u64::MAX));
        }
        too_long(
            n,
            (f.len() as u64)
                .saturating_add(widths)
                .saturating_add(expanded(&a[1])),
        )
    }),
    ("replace", 3, |n, a| {
        let (s, old, new) = (str_len(&a[0]), str_len(&a[1]), str_len(&a[2]));
        too_long(n, grow(s, old, new))
    }),
    ("strings.replace_n", 2, |n, a| {
        let mut est = str_len(&a[1]);
        if let Value::Object(o) = &a[0] {
            for (k, v) in o.iter() {
                est = grow(est, str_len(k), str_len(v));
            }
        }
        too_long(n, est)
    }),
    ("regex.replace", 3, |n, a| {
        let (s, new) = (str_len(&a[0]), str_len(&a[2]));
        too_long(n, grow(s, 0, new))
    }),
    ("json.marshal", 1, |n, a| too_long(n, expanded(&a[0]))),
    ("json.marshal_with_options", 2, |n, a| {
        too_long(n, expanded(&a[0]).saturating_mul(2))
    }),
    ("yaml.marshal", 1, |n, a| {
        too_long(n, expanded(&a[0]).saturating_mul(2))
    }),
    ("base64.encode", 1, |n, a| {
        too_long(n, str_len(&a[0]) / 3 * 4 + 4)
    }),
];

/// Upper bound of a string of `s` bytes after replacing every occurrence of
/// an `old`-byte pattern (0: every position) with `new` bytes.
fn grow(s: u64, old: u64, new: u64) -> u64 {
    let matches = s.checked_div(old).unwrap_or(s.saturating_add(1));
    s.saturating_add(matches.saturating_mul(new))
}

/// Installs the size checks in front of the builtins that can create large
/// values in one call.
pub(crate) fn install_guards(engine: &mut regorus::Engine) -> Result<(), PolicyError> {
    for &(name, nargs, check) in GUARDED {
        let ext = move |args: Vec<Value>| -> anyhow::Result<Value> {
            check(name, &args)?;
            call_builtin(name, &args)
        };
        engine
            .add_extension(name.to_string(), nargs, Box::new(ext))
            .map_err(|e| PolicyError::Config(format!("cannot guard {name}: {e:#}")))?;
    }
    Ok(())
}

/// Calls regorus's own implementation of a builtin.
fn call_builtin(name: &str, args: &[Value]) -> anyhow::Result<Value> {
    use regorus::unstable::{Expr, Ref, Span, BUILTINS};
    let Some((f, _)) = BUILTINS.get(name) else {
        anyhow::bail!("unknown builtin {name}");
    };
    let source = regorus::Source::from_contents(name.to_string(), name.to_string())?;
    let span = Span {
        source,
        line: 1,
        col: 1,
        start: 0,
        end: name.len() as u32,
    };
    let params: Vec<Ref<Expr>> = args
        .iter()
        .map(|_| {
            Ref::new(Expr::Null {
                span: span.clone(),
                value: Value::Null,
                eidx: 0,
            })
        })
        .collect();
    f(&span, &params, args, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_values_are_measured_expanded() {
        let mut v = Value::from(vec![Value::from(1u64)]);
        for _ in 0..40 {
            v = Value::from(vec![v.clone(), v]);
        }
        assert_eq!(value_size(&v, 1 << 20), Err(1 << 20));
        assert!(value_size(&Value::from("abc"), 100).is_ok_and(|n| n == 5));
    }

    /// One row of tests/hostile/README.md: file, and `error: …` or `result: …`.
    fn corpus() -> Vec<(String, bool, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        readme
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let file = cells.get(1)?.trim_matches('`');
                let expected = cells.get(3)?;
                if !file.ends_with(".rego") {
                    return None;
                }
                let (is_error, text) = match expected.split_once(": ") {
                    Some(("error", t)) => (true, t),
                    Some(("result", t)) => (false, t),
                    _ => return None,
                };
                Some((
                    file.to_string(),
                    is_error,
                    text.trim_matches('`').to_string(),
                ))
            })
            .collect()
    }

    const PLAN: &str = r#"{"format_version":"1.2","resource_changes":[{"address":"a.b","type":"a","change":{"actions":["create"],"after":{}}}]}"#;

    /// Loads, compiles and evaluates one policy text the way `arbiter
    /// evaluate --policy` does, on a thread with the default 2 MiB stack.
    fn run_policy(
        path: std::path::PathBuf,
        timeout: Duration,
    ) -> (Result<Vec<String>, String>, Duration) {
        let h = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let start = Instant::now();
                let r = crate::load_paths(&[path], false)
                    .and_then(|f| crate::UserPolicies::compile(&f, &[]))
                    .and_then(|up| {
                        let doc = crate::plan_document(PLAN)?;
                        up.with_limits(Limits::with_timeout(timeout)).evaluate(
                            &doc,
                            &serde_json::json!({}),
                            &serde_json::json!({}),
                        )
                    })
                    .map(|fs| fs.into_iter().map(|f| f.message).collect())
                    .map_err(|e| e.to_string());
                (r, start.elapsed())
            });
        match h.map(|h| h.join()) {
            Ok(Ok(r)) => r,
            _ => (Err("the evaluation thread failed".into()), Duration::ZERO),
        }
    }

    #[test]
    fn hostile_policies_end_with_their_error_within_the_budget() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
        let rows = corpus();
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| n.ends_with(".rego"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let mut listed: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        listed.sort();
        assert_eq!(files, listed, "every file has one README row");
        let timeout = Duration::from_secs(2);
        let mut failures = Vec::new();
        for (file, is_error, expected) in rows {
            let (r, took) = run_policy(dir.join(&file), timeout);
            eprintln!("{file}: {took:?}: {r:?}");
            let ok = match (&r, is_error) {
                (Err(e), true) => e.contains(&expected) && e.contains(&file),
                (Ok(msgs), false) => msgs.iter().any(|m| m.contains(&expected)),
                _ => false,
            };
            // The budget, plus loading and compiling in a debug build.
            if !ok || took > timeout * 5 {
                failures.push(format!(
                    "{file}: expected {expected:?}, got {r:?} in {took:?}"
                ));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn source_nested_100k_deep_is_refused_before_parsing() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { return };
        for (open, close) in [("[", "]"), ("(", ")"), ("{", "}"), ("f(", ")")] {
            let mut s = String::from("package main\nimport rego.v1\nv := ");
            for i in 0..100_000 {
                s.push_str(open);
                if i % 100 == 0 {
                    s.push('\n');
                }
            }
            s.push('1');
            for i in 0..100_000 {
                s.push_str(close);
                if i % 100 == 0 {
                    s.push('\n');
                }
            }
            let path = dir.path().join("deep.rego");
            assert!(std::fs::write(&path, s).is_ok());
            let (r, took) = run_policy(path, Duration::from_secs(2));
            let e = r.err().unwrap_or_default();
            assert!(
                e.contains("deep.rego:") && e.contains("nested more than"),
                "{open}: {e}"
            );
            assert!(took < Duration::from_secs(10), "{open}: {took:?}");
        }
    }

    #[test]
    fn the_deepest_allowed_reference_chain_evaluates_from_a_small_stack() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { return };
        let n = crate::syntax::MAX_REFERENCE_DEPTH - 2;
        let mut s = String::from("package main\nimport rego.v1\nr0 := [[[[[[[1]]]]]]]\n");
        for i in 1..n {
            s.push_str(&format!("r{i} := [r{}, {{\"k\": [r{}]}}]\n", i - 1, i - 1));
        }
        s.push_str(&format!(
            "deny contains \"deep\" if count(r{}) > 0\n",
            n - 1
        ));
        let path = dir.path().join("chain.rego");
        assert!(std::fs::write(&path, s).is_ok());
        let (r, _) = run_policy(path, Duration::from_secs(20));
        assert_eq!(r, Ok(vec!["deep".to_string()]));
    }

    /// The wrapped builtins answer exactly what regorus's own do.
    #[test]
    fn guarded_builtins_answer_like_regorus() {
        let policy = r##"package t
import rego.v1
v := [
  numbers.range(1, 5), numbers.range(5, 1), numbers.range_step(0, 10, 3),
  net.cidr_expand("10.0.0.0/30"), array.concat([1, 2], [3]),
  concat("-", ["a", "b"]), concat("", {"x", "y"}), sprintf("%05d %s %v", [42, "s", {"k": [1]}]),
  replace("aXbX", "X", "yy"), strings.replace_n({"a": "1", "b": "22"}, "abc"),
  regex.replace("a1b22", "[0-9]+", "#"), json.marshal({"a": [1, "x"]}),
  json.marshal_with_options({"a": 1}, {"pretty": true}), yaml.marshal({"a": [1]}),
  base64.encode("hello"),
]
"##;
        let eval = |guarded: bool| {
            let mut e = regorus::Engine::new();
            if guarded {
                assert!(install_guards(&mut e).is_ok());
            }
            assert!(e.add_policy("t.rego".into(), policy.into()).is_ok());
            e.eval_rule("data.t.v".into()).map_err(|e| e.to_string())
        };
        let plain = eval(false);
        assert!(plain.is_ok(), "{plain:?}");
        assert_eq!(eval(true), plain);
    }
}
