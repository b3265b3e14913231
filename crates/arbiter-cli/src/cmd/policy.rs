//! `arbiter policy test DIR` and `arbiter policy backtest` (in `cmd::backtest`).

use anyhow::Context;
use arbiter_policy::testing::{run_tests, TestResult};
use std::path::PathBuf;

/// Policy commands.
#[derive(clap::Subcommand)]
pub enum PolicyCommand {
    /// Run the `test_*` rules in Rego files, like `opa test` (exit 1 on failure).
    #[command(
        after_help = "Every rule named test_* in every package is evaluated; true passes, false or\n\
undefined fails. Tests use `with input as {...}` to supply inputs.\n\nExample:\n  arbiter policy test policies/ -v"
    )]
    Test(TestArgs),
    /// Which past decisions would change under candidate policies or a stack file.
    Backtest(crate::cmd::backtest::BacktestArgs),
}

/// Arguments of `policy test`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// Directories or .rego files (data.json/data.yaml beside them are loaded).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Run only tests whose `package.name` contains this text.
    #[arg(long = "run", short = 'r', value_name = "FILTER")]
    pub filter: Option<String>,
    /// Print every test, not only failures.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Output format: text or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Time budget of each test; a test that exceeds it is an error.
    #[arg(long, default_value = "10s", value_parser = crate::cmd::client::parse_duration, value_name = "DURATION")]
    pub policy_timeout: std::time::Duration,
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<u8> {
    match cmd {
        PolicyCommand::Test(args) => test(args),
        PolicyCommand::Backtest(args) => crate::cmd::backtest::run(args),
    }
}

fn test(args: TestArgs) -> anyhow::Result<u8> {
    let outcomes = run_tests(
        &args.paths,
        args.filter.as_deref(),
        &arbiter_policy::Limits::with_timeout(args.policy_timeout),
    )
    .context("loading policies")?;
    let passed = outcomes
        .iter()
        .filter(|o| o.result == TestResult::Pass)
        .count();
    let failed = outcomes
        .iter()
        .filter(|o| o.result == TestResult::Fail)
        .count();
    let errors = outcomes.len() - passed - failed;
    if args.format == "json" {
        let items: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| {
                let (result, error) = match &o.result {
                    TestResult::Pass => ("pass", None),
                    TestResult::Fail => ("fail", None),
                    TestResult::Error(e) => ("error", Some(e.clone())),
                };
                serde_json::json!({"file": o.file, "line": o.line, "package": o.package, "name": o.name,
                    "result": result, "error": error, "duration_ms": o.duration.as_secs_f64() * 1e3})
            })
            .collect();
        let doc = serde_json::json!({"tests": items, "passed": passed, "failed": failed, "errors": errors});
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let mut last_file = String::new();
        for o in &outcomes {
            let show = args.verbose || o.result != TestResult::Pass;
            if !show {
                continue;
            }
            if o.file != last_file {
                println!("{}:", o.file);
                last_file = o.file.clone();
            }
            let dur = format!("{:.1}ms", o.duration.as_secs_f64() * 1e3);
            match &o.result {
                TestResult::Pass => println!("{}.{}: PASS ({dur})", o.package, o.name),
                TestResult::Fail => println!(
                    "{}.{}: FAIL ({dur}) at {}:{}",
                    o.package, o.name, o.file, o.line
                ),
                TestResult::Error(e) => println!(
                    "{}.{}: ERROR ({dur}) at {}:{}\n  {e}",
                    o.package, o.name, o.file, o.line
                ),
            }
        }
        if outcomes.is_empty() {
            println!("no test_* rules found");
        } else {
            if args.verbose || failed + errors > 0 {
                println!("{}", "-".repeat(80));
            }
            if passed > 0 {
                println!("PASS: {passed}/{}", outcomes.len());
            }
            if failed > 0 {
                println!("FAIL: {failed}/{}", outcomes.len());
            }
            if errors > 0 {
                println!("ERROR: {errors}/{}", outcomes.len());
            }
        }
    }
    Ok(if failed + errors > 0 || outcomes.is_empty() {
        1
    } else {
        0
    })
}
