//! Bytes → `read_state` (raw `terraform.tfstate` v4 and `terraform show -json`
//! state). Any panic, overflow or sanitizer report is a bug.

#![no_main]

use arbiter_plan::read_state;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(state) = read_state(data) {
        for r in &state.resources {
            let _ = r.values.value();
            let _ = arbiter_plan::address::config_address(&r.address);
        }
    }
});
