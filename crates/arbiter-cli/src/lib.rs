//! The `arbiter` command line: the argument tree ([`Cli`]) and [`main`],
//! which parses arguments, calls the libraries and prints their results. No
//! judging logic lives here. `src/main.rs` only calls [`main`]; the tree is
//! a library so tests can walk it (every command's usage errors exit 1).

mod cmd;
pub mod exit;
mod output;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Arbiter judges infrastructure-as-code changes: policies, critics, a
/// confidence score and a decision (approve, review, reject).
#[derive(Parser)]
#[command(
    name = "arbiter",
    bin_name = "arbiter",
    version,
    about = "Judge infrastructure-as-code changes: Rego policies, critics, a confidence score and a decision (approve, review, reject).",
    propagate_version = true
)]
#[command(
    after_help = "Exit codes: 0 approve/success, 1 error, 2 needs review, 3 rejected.\n\n\
Start with:\n  terraform plan -out=tfplan && terraform show -json tfplan > plan.json\n  arbiter evaluate plan.json --stack stack.toml"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Judge a plan offline: decision, confidence, findings (exit 0/2/3).
    Evaluate(cmd::evaluate::EvaluateArgs),
    /// Patch the Terraform configuration with the mechanical fixes of a plan's findings.
    Fix(cmd::fix::FixArgs),
    /// Measure the judge on labelled plans and find safe thresholds (exit 0/3).
    #[command(long_about = cmd::calibrate::LONG_ABOUT)]
    Calibrate(cmd::calibrate::CalibrateArgs),
    /// Price a plan offline: monthly cost before/after per resource and component.
    Cost(cmd::cost::CostArgs),
    /// The price catalogue: `import` an AWS offer file, `show` what is embedded.
    #[command(subcommand)]
    Pricing(cmd::pricing::PricingCommand),
    /// Work with your own Rego policies (`arbiter policy test DIR`).
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Browse the built-in rule pack (`list`, `show ID`, `export DIR`).
    #[command(subcommand)]
    Rules(cmd::rules::RulesCommand),
    /// The audit log: `verify FILE` checks an export offline.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Run the control plane server (API, review queue, audit log).
    Serve(cmd::serve::ServeArgs),
    /// Carry out runs (apply approved changes) for a worker pool of a server.
    Worker(cmd::worker::WorkerArgs),
    /// Submit a plan to the server as a change request (exit 0/2/3).
    Submit {
        #[command(flatten)]
        args: cmd::remote::SubmitArgs,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// MCP tools on stdio for a local agent (calls signed with its key).
    Mcp {
        #[command(flatten)]
        args: cmd::mcp::McpArgs,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// The review queue: list, show, approve, reject.
    Review {
        #[command(subcommand)]
        cmd: cmd::remote::ReviewCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// Stacks on the server: create, list, show, update.
    Stack {
        #[command(subcommand)]
        cmd: cmd::remote::StackCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// Waivers of a stack (accepted risks): add, list, revoke.
    Waiver {
        #[command(subcommand)]
        cmd: cmd::waiver::WaiverCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// State history of a stack: push, list, show, diff, rollback.
    State {
        #[command(subcommand)]
        cmd: cmd::state::StateCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
        #[command(flatten)]
        agent: cmd::state::AgentArgs,
    },
    /// Agents: keygen, create, list, show, revoke.
    Agent {
        #[command(subcommand)]
        cmd: cmd::remote::AgentCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// Policy sets stored on the server: push, list, show.
    PolicySet {
        #[command(subcommand)]
        cmd: cmd::remote::PolicySetCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// People on the server (admin): create, list.
    User {
        #[command(subcommand)]
        cmd: cmd::remote::UserCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// API tokens: create, list, revoke.
    Token {
        #[command(subcommand)]
        cmd: cmd::remote::TokenCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// Webhooks: create, list, show, delete, deliveries, test.
    Webhook {
        #[command(subcommand)]
        cmd: cmd::webhook::WebhookCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// Runs applying approved changes: list, show, logs, confirm, cancel.
    Run {
        #[command(subcommand)]
        cmd: cmd::remote::RunCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
    /// Worker pools (admin): create, tokens, revoke-token.
    ///
    /// `create` prints a token for `arbiter worker`; `tokens` lists a pool's
    /// tokens without their secrets; `revoke-token` ends one at once.
    WorkerPool {
        #[command(subcommand)]
        cmd: cmd::remote::WorkerPoolCommand,
        #[command(flatten)]
        server: cmd::client::ServerArgs,
    },
}

/// Runs the command line: parses `std::env::args`, runs the command and
/// returns its exit code ([`exit`]).
pub fn main() -> ExitCode {
    // The Rego parser reports (and recovers from) errors through `anyhow`,
    // which captures a stack trace per error when RUST_BACKTRACE is set —
    // turning a 10 ms policy compile into 100 ms. Library backtraces are of
    // no use to users; panics still honour RUST_BACKTRACE. Set before any
    // thread starts.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    // A bug must still end in a one-line error and exit code 1, not a trace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error{loc}: {msg} (please report this)");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(exit::usage(&e)),
    };
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Evaluate(args) => cmd::evaluate::run(args),
        Command::Fix(args) => cmd::fix::run(args),
        Command::Calibrate(args) => cmd::calibrate::run(args),
        Command::Cost(args) => cmd::cost::run(args),
        Command::Pricing(c) => cmd::pricing::run(c),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Rules(c) => cmd::rules::run(c),
        Command::Audit(c) => cmd::audit::run(c),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Worker(args) => cmd::worker::run(args),
        Command::Submit { args, server } => cmd::remote::submit(args, &server),
        Command::Mcp { args, server } => cmd::mcp::run(args, &server),
        Command::Review { cmd, server } => cmd::remote::review(cmd, &server),
        Command::Stack { cmd, server } => cmd::remote::stack(cmd, &server),
        Command::Waiver { cmd, server } => cmd::waiver::run(cmd, &server),
        Command::State { cmd, server, agent } => cmd::state::run(cmd, &server, &agent),
        Command::Agent { cmd, server } => cmd::remote::agent(cmd, &server),
        Command::PolicySet { cmd, server } => cmd::remote::policy_set(cmd, &server),
        Command::User { cmd, server } => cmd::remote::user(cmd, &server),
        Command::Token { cmd, server } => cmd::remote::token(cmd, &server),
        Command::Webhook { cmd, server } => cmd::webhook::run(cmd, &server),
        Command::Run { cmd, server } => cmd::remote::run_cmd(cmd, &server),
        Command::WorkerPool { cmd, server } => cmd::remote::worker_pool(cmd, &server),
    });
    match result {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(exit::ERROR)
        }
        Err(_) => ExitCode::from(exit::ERROR),
    }
}

/// `anyhow` chains on one line: "reading plan p.json: line 3 column 5: …".
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
