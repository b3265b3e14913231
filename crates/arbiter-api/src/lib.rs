//! The contract between Arbiter's server and its clients: the JSON bodies of
//! the HTTP API (`/api/v1`) and the scheme agents use to sign requests.
//!
//! Architecture invariant: types and pure functions only; no I/O, no HTTP
//! client or server, no database. The server and the CLI client both speak
//! through these types, so they cannot drift apart.

pub mod backtest;
pub mod bounds;
pub mod bundle;
pub mod errors;
pub mod runs;
pub mod signing;
pub mod states;
pub mod time;
pub mod types;
pub mod waivers;
pub mod webhooks;

pub use arbiter_verdict::{Decision, Environment, UnknownName};
pub use backtest::{
    AgainstPeople, BacktestItem, BacktestReport, BacktestRequest, CandidateSummary, ChangeCounts,
    DecisionChange, PeopleDecision, StackCounts,
};
pub use errors::ErrorCode;
pub use signing::{
    AgentKey, PublicKey, SignatureHeaders, SigningError, HEADER_CONTENT_SHA256, HEADER_KEY_ID,
    HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_CLOCK_SKEW_SECS,
};
pub use states::*;
pub use time::{Timestamp, TimestampError};
pub use types::*;
pub use waivers::*;
pub use webhooks::*;
