//! The integration tests of `arbiter-judge`, one test binary (each binary links the
//! whole dependency tree; one per crate keeps the build short). Run one file's
//! tests with `cargo test -p arbiter-judge --test it FILE::`.

mod cost;
mod fixes;
mod scenarios;
