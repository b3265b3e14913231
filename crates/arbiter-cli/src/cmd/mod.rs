//! One module per command.

pub mod audit;
pub mod evaluate;
pub mod policy;
pub mod rules;
