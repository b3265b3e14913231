//! Dev-only test helpers: golden files, and real infrastructure.
//!
//! [`golden::Golden`] compares a test's output with a checked-in file and
//! refreshes it on request (`UPDATE_GOLDEN=1`); it needs nothing but `std`,
//! so crates that only want it depend on this one with
//! `default-features = false`.
//!
//! `postgres_database` (feature `postgres`, on by default) hands every test
//! a fresh, empty PostgreSQL database. With `ARBITER_TEST_DATABASE_URL` set
//! (a server the tests may create databases on) it uses that server;
//! otherwise it starts one throwaway cluster per test process with
//! `initdb`/`pg_ctl` from `/usr/lib/postgresql/*/bin` (or `PG_BIN`, or
//! `PATH`), on a free port, as the `postgres` user when run as root, with
//! fsync off (unless `ARBITER_PG_DURABLE` is set, for benchmarks). A
//! watchdog stops the cluster and removes its directory when the test
//! process exits, even if it crashes.
//!
//! When PostgreSQL is not installed, `postgres_database` returns `Ok(None)`
//! and says so loudly on stderr, unless `ARBITER_REQUIRE_POSTGRES` is set
//! (CI sets it), in which case it is an error.
//!
//! [`tfprovider::plugin_dir`] builds the Terraform test provider
//! (`crates/tf-provider-arbitest`) once per process and lays it out for an
//! offline `terraform init -plugin-dir DIR` (or a filesystem mirror).

pub mod golden;
#[cfg(feature = "postgres")]
mod postgres;

#[cfg(feature = "postgres")]
pub use postgres::postgres_database;
pub mod tfprovider;
