//! The integration tests of `arbiter-fix`, one test binary. Run one file's
//! tests with `cargo test -p arbiter-fix --test it FILE::`.

mod patches;
