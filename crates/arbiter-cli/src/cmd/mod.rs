//! One module per command.

pub mod audit;
pub mod calibrate;
pub mod client;
pub mod cost;
pub mod evaluate;
pub mod policy;
pub mod pricing;
pub mod remote;
pub mod rules;
pub mod serve;
pub mod state;
pub mod waiver;
pub mod webhook;
pub mod worker;
