//! The integration tests of `arbiter-store`, one test binary (each binary links the
//! whole dependency tree; one per crate keeps the build short). Run one file's
//! tests with `cargo test -p arbiter-store --test it FILE::`.

mod runs;
mod sessions;
mod states;
mod store;
mod webhooks;
