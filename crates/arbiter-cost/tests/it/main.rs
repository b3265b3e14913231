//! The integration tests of `arbiter-cost`, one test binary (each binary links the
//! whole dependency tree; one per crate keeps the build short). Run one file's
//! tests with `cargo test -p arbiter-cost --test it FILE::`.

mod cases;
mod golden;
mod hostile;
mod offer;
