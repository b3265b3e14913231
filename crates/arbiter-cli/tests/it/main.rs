//! The integration tests of `arbiter-cli`, one test binary (each binary links the
//! whole dependency tree; one per crate keeps the build short). Run one file's
//! tests with `cargo test -p arbiter-cli --test it FILE::`.

mod architecture;
mod audit;
mod backtest_cli;
mod bad_input;
mod checkov_compat;
mod cli;
mod common;
mod cost_cli;
mod durability;
mod fix_cli;
mod mcp;
mod server_cli;
mod state_cli;
mod web_ui;
mod webhooks_cli;
mod worker_cli;
mod worker_e2e;
