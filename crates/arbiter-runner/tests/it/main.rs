//! Integration tests of the run worker (one binary; modules below).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake;
mod runs;
mod source;
mod verify;
