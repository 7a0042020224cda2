//! Omni's test harness, shared by the end-to-end tests and the benchmarks.
//!
//! - [`wasm`]: paths of the plugin components `build.rs` compiled;
//! - [`process`]: starts the real `omni` binary on a temporary config and
//!   talks to it over HTTP;
//! - [`provider`]: a local fake of a provider API that records requests;
//! - [`hubspot`]: a stateful local stand-in for HubSpot's CRM API;
//! - [`line`]: a local LINE push API that honours retry keys, and signed
//!   LINE webhooks;
//! - [`load`]: the benchmarks' HTTP load generator;
//! - [`native`]: runs a plugin crate compiled natively behind the host's
//!   [`omni_host::connector::Connector`] trait, for sandbox-versus-native
//!   comparisons.

pub mod hubspot;
pub mod line;
pub mod load;
pub mod native;
pub mod process;
pub mod provider;
pub mod wasm;
