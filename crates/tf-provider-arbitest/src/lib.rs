//! `terraform-provider-arbitest`: a small Terraform provider (plugin
//! protocol 6, built on the `tf-provider` crate) for Arbiter's tests.
//!
//! Its objects are JSON files in a directory (see [`store`]) that tests can
//! change behind Terraform's back, so drift, removal, partial applies and
//! interrupted applies are all real. See the README's "Test provider"
//! section for the configuration and the offline install.

pub mod object;
pub mod provider;
pub mod store;

pub use provider::ArbitestProvider;

/// The provider's type name: resources are `arbitest_*`.
pub const PROVIDER_NAME: &str = "arbitest";
