//! The integration tests of `arbiter-plan`, one test binary (each binary links the
//! whole dependency tree; one per crate keeps the build short). Run one file's
//! tests with `cargo test -p arbiter-plan --test it FILE::`.

mod fixtures;
mod properties;
