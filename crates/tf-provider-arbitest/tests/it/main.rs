//! The test provider under the real Terraform (1.11 on PATH): offline init,
//! plan, apply, drift behind Terraform's back, update, replace, import,
//! destroy, injected failures (partial applies), the delays and a SIGKILL
//! of Terraform mid-apply; and (`runs`) runs of the real server carried out
//! by the real worker with this provider (a failing resource, cancel while
//! queued and while planning, a plan past its time limit, a worker killed
//! mid-apply, a Terraform outliving its killed worker, an apply the server
//! stops whose unsaved state the worker keeps, two workers and twenty
//! runs), both databases; (`rollback`) a rollback applied by the real
//! worker from its target's recorded configuration; and (`worker`) the worker's runs of
//! `terraform_data` against the real server (a changed plan, cancel, the
//! sandbox, verification, shutdown), both databases. These tests need
//! `terraform` and (for a first build) `protoc`; they fail, never skip,
//! when one is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod failures;
mod install;
mod lifecycle;
mod rollback;
mod runs;
mod server;
mod worker;
