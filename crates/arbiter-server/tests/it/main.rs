//! The integration tests of `arbiter-server`, one test binary (each binary links the
//! whole dependency tree; one per crate keeps the build short). Run one file's
//! tests with `cargo test -p arbiter-server --test it FILE::`.

mod api;
mod backtest;
mod common;
mod docs;
mod hardening;
mod hardening_b;
mod mcp;
mod rbac;
mod runs;
mod states;
mod ui;
mod webhooks;
mod worker_e2e;
