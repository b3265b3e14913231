//! Documents generated from the types, committed in the repository and
//! checked here: the table of API error codes (`docs/errors.md`, from
//! `arbiter_api::ErrorCode`) and the codes the OpenAPI document lists.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p arbiter-server --test it -- docs::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arbiter_api::ErrorCode;
use arbiter_testkit::golden::Golden;

fn docs() -> Golden {
    Golden::new(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs"),
        "cargo test -p arbiter-server --test it -- docs::",
    )
}

#[test]
fn the_error_table_in_docs_is_generated_from_the_codes() {
    docs()
        .check("errors.md", &ErrorCode::markdown())
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_openapi_document_lists_exactly_the_error_codes_of_the_table() {
    let doc: serde_json::Value = serde_json::from_str(arbiter_server::openapi::DOCUMENT).unwrap();
    let listed: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .expect("the Error schema's code has an enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let table: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, table);
}
