//! One module per command.

pub mod audit;
pub mod cost;
pub mod evaluate;
pub mod policy;
pub mod pricing;
pub mod rules;
