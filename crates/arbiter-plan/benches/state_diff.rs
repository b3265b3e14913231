//! `cargo bench -p arbiter-plan --bench state_diff`: time to read two raw
//! states of N resource instances (default 10,000; `ARBITER_BENCH_STATE_N`),
//! diff them and build the restore plan between them (best of 5). The states
//! are generated here, shaped like Terraform's: resources in modules with
//! `count`, dynamic-typed `terraform_data` attributes, one in ten with a
//! sensitive attribute; version 2 changes 5 % of the instances, replaces
//! 1 %, removes 2 % and adds 2 %.

use std::fmt::Write;
use std::time::Instant;

fn instance(i: usize, v2: bool) -> String {
    let changed = v2 && i % 20 == 1;
    let replaced = v2 && i % 100 == 3;
    let generation = if changed || replaced { 2 } else { 1 };
    let sensitive = if i.is_multiple_of(10) {
        r#"[[{"type":"get_attr","value":"input"},{"type":"get_attr","value":"password"}]]"#
    } else {
        "[]"
    };
    let input = format!(
        r#"{{"name":"node-{i}","size":"m{}.large","password":"pw-{i:08}-{generation}","tags":{{"team":"t{}","env":"prod"}}}}"#,
        i % 7,
        i % 13
    );
    format!(
        r#"{{"index_key":{},"schema_version":0,"attributes":{{"id":"id-{i:08}-{}","input":{{"value":{input},"type":"dynamic"}},"output":{{"value":{input},"type":"dynamic"}},"triggers_replace":null}},"sensitive_attributes":{sensitive}}}"#,
        i % 100,
        if replaced { 2 } else { 1 },
    )
}

/// A raw v4 state with `n` instances, 100 per module instance (`count`).
fn state(n: usize, v2: bool) -> String {
    let generation = if v2 { 2 } else { 1 };
    let mut out = format!(
        r#"{{"version":4,"terraform_version":"1.11.4","serial":{generation},"lineage":"bench","outputs":{{"pw":{{"value":"out-secret-{generation}","type":"string","sensitive":true}}}},"resources":["#
    );
    for block in 0..n.div_ceil(100) {
        let mut instances = Vec::new();
        for i in block * 100..((block + 1) * 100).min(n) {
            // Version 2 removes 2 % ...
            if !(v2 && i % 50 == 7) {
                instances.push(instance(i, v2));
            }
        }
        let name = if v2 && block.is_multiple_of(50) {
            // ... and adds 2 % (a new block of 100 in every 50).
            let added: Vec<String> = (0..100)
                .map(|k| instance(n + block * 100 + k, false))
                .collect();
            Some(added.join(","))
        } else {
            None
        };
        if block > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"module":"module.m[{block}]","mode":"managed","type":"terraform_data","name":"node","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[{}]}}"#,
            instances.join(",")
        );
        if let Some(added) = name {
            let _ = write!(
                out,
                r#",{{"module":"module.m[{block}]","mode":"managed","type":"terraform_data","name":"extra","provider":"provider[\"terraform.io/builtin/terraform\"]","instances":[{added}]}}"#
            );
        }
    }
    out.push_str("]}");
    out
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
        last = Some(v);
    }
    match last {
        Some(v) => (best, v),
        None => std::process::exit(1),
    }
}

fn main() {
    let n: usize = std::env::var("ARBITER_BENCH_STATE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (v1, v2) = (state(n, false), state(n, true));
    let read = |text: &str| match arbiter_plan::read_state(text.as_bytes()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("generated state does not read: {e}");
            std::process::exit(1)
        }
    };
    let (t_read, s1) = best(5, || read(&v1));
    let s2 = read(&v2);
    println!(
        "states: {} and {} instances ({:.1} MB and {:.1} MB)",
        s1.resources.len(),
        s2.resources.len(),
        v1.len() as f64 / 1e6,
        v2.len() as f64 / 1e6
    );
    println!("read_state: {t_read:.1} ms");
    let (t_diff, d) = best(5, || arbiter_plan::diff_states(&s1, &s2));
    println!(
        "diff_states: {t_diff:.1} ms ({} added, {} removed, {} changed, {} unchanged)",
        d.count(arbiter_plan::DeltaKind::Added),
        d.count(arbiter_plan::DeltaKind::Removed),
        d.count(arbiter_plan::DeltaKind::Changed),
        d.unchanged
    );
    let (t_plan, p) = best(5, || {
        let p = arbiter_plan::restore_plan(&s2, &s1);
        let text = p.document.to_string();
        (p.changes.len(), text.len())
    });
    println!(
        "restore_plan + serialise: {t_plan:.1} ms ({} changing instances, {:.1} MB plan)",
        p.0,
        p.1 as f64 / 1e6
    );
}
