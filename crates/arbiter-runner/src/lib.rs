//! The run worker (issue 12): carries out one run on a worker machine —
//! fetches and unpacks its source, runs Terraform/OpenTofu in a sandbox with
//! Arbiter as the state backend, checks that the new plan is the judged
//! plan (`arbiter_plan::digest`), applies the saved plan, verifies, and
//! streams a masked log — talking to the server only through the runs API
//! (`arbiter_api::runs`).
//!
//! Architecture invariant: no database, no server code; everything it
//! knows about a run comes from its [`arbiter_api::Claim`].

pub mod api;
pub mod errored_state;
pub mod logs;
pub mod mask;
pub mod run;
pub mod sandbox;
pub mod source;
pub mod tool;
pub mod verify;

pub use api::{ApiError, WorkerApi};
pub use run::{execute, work, Outcome, WorkerConfig};
pub use sandbox::Sandbox;
