//! The integration tests of `arbiter-audit`, one test binary (each binary links the
//! whole dependency tree; one per crate keeps the build short). Run one file's
//! tests with `cargo test -p arbiter-audit --test it FILE::`.

mod merkle;
mod tamper;
mod verify;
mod worked_example;
