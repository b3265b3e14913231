//! The cost engine: an offline AWS price catalogue, a cost model per
//! resource type, and usage files.
//!
//! ```text
//! plan ──► CostEngine::estimate ──► CostSummary (arbiter-verdict)
//!            │  catalogue: data/pricing/*.csv, pre-indexed at build time
//!            │             (+ an optional user CSV from `pricing import`)
//!            │  usage:     Infracost-style YAML (requests, GB stored, …)
//!            └  region:    --region, else the plan's aws provider, else us-east-1
//! ```
//!
//! Guarantees: a price is never guessed (a missing catalogue row makes the
//! resource *unpriced*, with the row it needed, and keeps it out of the
//! totals); every quantity that is not a plan value is marked as an
//! assumption with the usage key or attribute that would replace it;
//! nothing a plan or usage file holds can make the engine panic.
//!
//! Architecture invariant: depends on the plan model and the verdict
//! vocabulary only; knows nothing of policies, critics, the judge or output
//! formats, and never prints.

pub mod attrs;
pub mod catalogue;
#[doc(hidden)]
pub mod csv;
pub mod error;
mod estimate;
mod index;
pub mod model;
pub mod offer;
pub mod region;
pub mod usage;

pub use catalogue::{Catalogue, InstanceSpec, Price};
pub use error::CostError;
pub use estimate::{redact, CostEngine};
pub use model::HOURS_PER_MONTH;
pub use offer::{as_of_date, import_offer, import_offer_file, ImportReport};
pub use usage::Usage;

/// Resource types the engine prices with a model, sorted.
pub fn priced_types() -> Vec<&'static str> {
    model::models().iter().map(|m| m.resource_type).collect()
}

/// Resource types known to have no charge of their own (`free.csv`), sorted.
pub fn free_types() -> Vec<&'static str> {
    Catalogue::free_entries()
        .iter()
        .filter(|(_, reason, _)| reason.starts_with("free:"))
        .map(|(t, _, _)| *t)
        .filter(|t| !t.contains('['))
        .collect()
}
