//! Bytes → `import_offer` (an AWS Price List offer file, as `arbiter pricing
//! import` reads it), then the report's summary and CSV; and the same bytes,
//! as text cut in two, → `as_of_date` (publicationDate, version). Any panic,
//! overflow or sanitizer report is a bug.

#![no_main]

use arbiter_cost::{as_of_date, import_offer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = import_offer(data, "fuzz.json", "fuzz.json") {
        let _ = report.summary();
        let _ = report.to_csv();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        // Cut at the middle character, so both halves are any text.
        let chars = text.chars().count();
        let mid = text
            .char_indices()
            .nth(chars / 2)
            .map_or(text.len(), |(i, _)| i);
        let (publication_date, version) = text.split_at(mid);
        let _ = as_of_date(publication_date, version);
    }
});
