//! One module per command.

pub mod evaluate;
pub mod policy;
pub mod rules;
