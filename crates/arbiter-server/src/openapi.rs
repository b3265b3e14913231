//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, written by
//! hand (`static/openapi.json`) and checked by tests against the router.

/// The document.
pub const DOCUMENT: &str = include_str!("../static/openapi.json");
