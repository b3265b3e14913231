//! Integration tests of the run worker (one binary; modules below). Whole
//! runs against the real server are in crates/tf-provider-arbitest/tests/it
//! (`worker`, `runs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod errored_state;
mod source;
mod tool;
mod verify;
