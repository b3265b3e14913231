//! The integration tests of `arbiter-report`, one test binary (each binary links the
//! whole dependency tree; one per crate keeps the build short). Run one file's
//! tests with `cargo test -p arbiter-report --test it FILE::`.

mod common;
mod formats;
mod golden;
mod html;
