//! One module per command.

pub mod audit;
pub mod backtest;
pub mod calibrate;
pub mod client;
pub mod cost;
pub mod evaluate;
pub mod fix;
pub mod mcp;
pub mod policy;
pub mod pricing;
pub mod remote;
pub mod rules;
pub mod serve;
pub mod state;
pub mod waiver;
pub mod webhook;
pub mod worker;
