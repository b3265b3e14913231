//! Every error code of the API, in one table: the code an error answer
//! carries (`{"error": {"code": ..., "message": ...}}`), the HTTP status it
//! always comes with, and what it means.
//!
//! The server can only answer with an [`ErrorCode`] (its error type takes
//! one), so a code missing from this table does not compile; the table in
//! `docs/errors.md` and the `code` enumeration of the OpenAPI document are
//! checked against [`ErrorCode::ALL`] by the server's tests. Codes are
//! stable: a client may match on them. New codes may be added, so a client
//! should treat an unknown code by its HTTP status; [`crate::ErrorDetail`]
//! keeps the code as a string for that reason.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($code:literal, $status:literal, $meaning:literal), )*) => {
        /// A stable error code of the API (see the module documentation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the order of the table (by HTTP status).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code on the wire (`not_found`).
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status every answer with this code has.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// What it means and what to do about it, for the table.
            pub fn meaning(self) -> &'static str {
                match self { $(ErrorCode::$variant => $meaning,)* }
            }

            /// The code named `s`, if there is one.
            pub fn parse(s: &str) -> Option<ErrorCode> {
                match s { $($code => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// The request body could not be read.
    BadBody = ("bad_body", 400, "The request body could not be read (the connection broke, or the body is not what the content headers say)."),
    /// The body is not JSON of the expected shape.
    InvalidJson = ("invalid_json", 400, "The body is not JSON of the shape the endpoint takes (a missing field, a wrong type, or an unknown field: requests refuse unknown fields)."),
    /// The plan cannot be read.
    InvalidPlan = ("invalid_plan", 400, "The plan in the submission is not a Terraform/OpenTofu JSON plan that Arbiter can read; the message says where it fails."),
    /// A query parameter is not acceptable.
    InvalidQuery = ("invalid_query", 400, "A query parameter has a value the endpoint does not accept (an unknown status, a limit out of range, …)."),
    /// A path identifier is not a number.
    InvalidId = ("invalid_id", 400, "An identifier in the path must be a whole number."),
    /// A state version in the path or query is not a number from 1.
    InvalidVersion = ("invalid_version", 400, "A state version must be a whole number from 1."),
    /// The `Idempotency-Key` header is not acceptable.
    InvalidIdempotencyKey = ("invalid_idempotency_key", 400, "The `Idempotency-Key` header must be 1–200 visible ASCII characters."),
    /// An uploaded bundle whose bytes do not have the SHA-256 its path names.
    DigestMismatch = ("digest_mismatch", 400, "The uploaded configuration bundle's SHA-256 is not the one in its path (`PUT /api/v1/bundles/{sha256}`)."),
    /// No credentials, or credentials of the wrong form.
    Unauthenticated = ("unauthenticated", 401, "No credentials, or not in a form the endpoint takes: send `Authorization: Bearer TOKEN`, or sign the request as an agent."),
    /// The bearer token is not valid.
    InvalidToken = ("invalid_token", 401, "The bearer token is unknown, revoked or expired."),
    /// State backend credentials that are malformed, unknown or expired.
    InvalidCredentials = ("invalid_credentials", 401, "The state backend's basic credentials are malformed, unknown, or no longer valid (a run's end when it applied or stopped)."),
    /// A signature header is missing.
    MissingSignature = ("missing_signature", 401, "An agent request lacks one of the signature headers (docs/signing.md)."),
    /// A signature header cannot be parsed.
    MalformedSignature = ("malformed_signature", 401, "A signature header of an agent request cannot be parsed."),
    /// The signed timestamp is too far from the server's clock.
    TimestampOutOfRange = ("timestamp_out_of_range", 401, "The signed timestamp is more than the allowed clock skew away from the server's clock; check the agent's clock."),
    /// The signature does not verify.
    BadSignature = ("bad_signature", 401, "The signature does not verify with the agent's key: the request was changed, or signed with another key."),
    /// The body's digest differs from the signed one.
    ContentDigestMismatch = ("content_digest_mismatch", 401, "The body does not have the SHA-256 the signature covers (`X-Arbiter-Content-SHA256`)."),
    /// The key the request names is not a valid public key.
    BadKey = ("bad_key", 401, "The public key the request names is not a valid Ed25519 key."),
    /// No agent has the key.
    UnknownKey = ("unknown_key", 401, "No agent has the key the request was signed with."),
    /// The key, or its agent, is revoked.
    RevokedKey = ("revoked_key", 401, "The key the request was signed with, or its agent, is revoked."),
    /// The nonce was used before.
    ReplayedNonce = ("replayed_nonce", 401, "The nonce was used before with this key: a replayed request. Sign every request with a fresh nonce."),
    /// An agent token (minted for MCP) used outside `/mcp`.
    AgentTokenOutsideMcp = ("agent_token_outside_mcp", 401, "An agent token (from `POST /api/v1/agents/{name}/tokens`) is accepted at `/mcp` only; sign other API requests with the agent's key."),
    /// The caller may not do this.
    Forbidden = ("forbidden", 403, "The caller is authenticated but its role or scope does not allow this."),
    /// `/mcp` called without a bearer token.
    BearerRequired = ("bearer_required", 403, "`/mcp` takes `Authorization: Bearer TOKEN` only (an API token or an agent token); signed requests and session cookies are refused there."),
    /// `/mcp` called with a Host it does not accept.
    HostNotAllowed = ("host_not_allowed", 403, "The Host header is not one `/mcp` accepts (`--mcp-allowed-host`; default localhost, 127.0.0.1, ::1)."),
    /// No such thing (or no such endpoint).
    NotFound = ("not_found", 404, "No such object, or no such endpoint (see `/api/v1/openapi.json`); also answered for objects the caller may not see."),
    /// The method is not served on this path.
    MethodNotAllowed = ("method_not_allowed", 405, "The path exists but not with this method (the state backend serves GET, POST, LOCK and UNLOCK)."),
    /// The request conflicts with the current state.
    Conflict = ("conflict", 409, "The request conflicts with the current state (a name already taken, a stale `if_version`, a change request no longer pending, …)."),
    /// A state of another lineage.
    LineageMismatch = ("lineage_mismatch", 409, "The pushed state, or the rollback target, has another lineage than the stack's latest state (another workspace's state?); `force` overrides."),
    /// A state whose serial is not newer.
    StaleSerial = ("stale_serial", 409, "The pushed state's serial is not newer than the latest version's; `force` overrides."),
    /// The rollback target is already the latest state.
    NothingToRollBack = ("nothing_to_roll_back", 409, "The rollback target is the stack's latest state, or does not differ from it."),
    /// A worker's call names a run its lease no longer holds.
    LeaseLost = ("lease_lost", 409, "The run is not held by this lease any more (finished, interrupted, or claimed by another worker): stop working on it."),
    /// A run's backend credentials used for a state write its run may no longer make.
    StateWriteRefused = ("state_write_refused", 409, "A state write (POST, LOCK) with a run's backend credentials while the run is not in a phase that writes state: a run locks state only while active up to applying and writes it only while applying; after it failed, was interrupted, cancelled, discarded or applied, a terraform still running with its credentials is refused (and audited as `state.write_refused`)."),
    /// The body is too large.
    PayloadTooLarge = ("payload_too_large", 413, "The body is larger than the server's limit for this endpoint."),
    /// Well-formed but not acceptable.
    Invalid = ("invalid", 422, "The request is well-formed but not acceptable (a bad name, an unknown environment, a threshold out of range, …); the message says which field."),
    /// An idempotency key reused with another body.
    IdempotencyKeyReused = ("idempotency_key_reused", 422, "This `Idempotency-Key` was used before with a different body."),
    /// The state cannot be read.
    InvalidState = ("invalid_state", 422, "The pushed state is not a Terraform state Arbiter can read."),
    /// A configuration bundle that is not a safe tar.gz.
    InvalidBundle = ("invalid_bundle", 422, "The configuration bundle is not a gzip-compressed tar, or has an entry that is refused (absolute path, `..`, link, device); the message names the entry."),
    /// The agent's submission rate is exceeded.
    RateLimited = ("rate_limited", 429, "The agent submitted more than its `submissions_per_minute`; retry after `Retry-After` seconds."),
    /// The agent's hourly blast radius is exceeded.
    BlastRadiusExceeded = ("blast_radius_exceeded", 429, "The agent's submissions in the last hour change more resources than its `blast_radius_per_hour`; retry after `Retry-After` seconds."),
    /// The caller holds more than its share of a busy pool.
    FairShareExceeded = ("fair_share_exceeded", 429, "The caller holds more than its fair share of the server's evaluation slots while others wait; retry later."),
    /// Our fault.
    Internal = ("internal", 500, "An error on the server's side; the server log has the details (the answer never does)."),
    /// The database is unavailable.
    Unavailable = ("unavailable", 503, "The database is unavailable; nothing was changed. Retry later."),
    /// Every slot of a pool stayed busy.
    ServerBusy = ("server_busy", 503, "Every evaluation slot of the server stayed busy; retry later."),
    /// The request took too long.
    Timeout = ("timeout", 503, "The request took longer than the server's request timeout."),
}

impl ErrorCode {
    /// The table of every code as Markdown, the body of `docs/errors.md`.
    pub fn markdown() -> String {
        let mut out = String::from(
            "# API error codes\n\n\
             Every error answer of the HTTP API is `{\"error\": {\"code\": CODE, \"message\": TEXT}}`.\n\
             The code is stable and always comes with the HTTP status below; the message is for a\n\
             person and may change. New codes may be added: treat an unknown one by its status.\n\n\
             Generated from `arbiter_api::ErrorCode` (the server can answer with no other code);\n\
             regenerate with `UPDATE_GOLDEN=1 cargo test -p arbiter-server --test it -- docs::`.\n\n\
             | Code | HTTP | Meaning |\n| --- | --- | --- |\n",
        );
        for c in ErrorCode::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.as_str(),
                c.status(),
                c.meaning().replace('|', "\\|")
            ));
        }
        out
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = String;
    fn from_str(s: &str) -> Result<ErrorCode, String> {
        ErrorCode::parse(s).ok_or_else(|| format!("unknown error code {s:?}"))
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ErrorCode, D::Error> {
        let s = String::deserialize(d)?;
        ErrorCode::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            assert_eq!(ErrorCode::parse(s), Some(*c));
            assert!((400..600).contains(&c.status()), "{s}");
            assert!(c.meaning().ends_with('.'), "{s}: a sentence");
        }
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn the_table_is_ordered_by_status_and_lists_every_code() {
        let statuses: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.status()).collect();
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(statuses, sorted);
        let md = ErrorCode::markdown();
        for c in ErrorCode::ALL {
            assert!(
                md.contains(&format!("| `{}` | {} |", c.as_str(), c.status())),
                "{c}"
            );
        }
    }
}
