//! The Omni host: loads channel connectors and CRM integrations as
//! sandboxed WebAssembly components, runs provider webhooks through them into
//! the conversation store, sends agents' replies back out, and feeds the
//! event log to integrations and API consumers.
//!
//! Map of the crate: [`config`] reads `omni.toml`; [`runtime`] is the
//! wasmtime sandbox (engine, limits, precompiled cache, host functions);
//! [`connector`] is the host's view of a loaded connector; [`ingest`] and
//! [`events`] are the inbound path from webhook to store transaction;
//! [`dispatch`] is the outbound path from outbox to plugin `send`; [`http`]
//! is the axum server (hooks, `/v1` API, OpenAPI); [`log_watch`] follows
//! the event log's head and [`subscribers`] deliver it to integrations;
//! [`app`] wires it all up and [`cli`] is the `omni` command.

pub mod admission;
pub mod app;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod connector;
pub mod contention;
pub mod dispatch;
pub mod enrichment;
pub mod events;
pub mod http;
pub mod ingest;
pub mod log_watch;
pub mod rate;
pub mod reload;
pub mod runtime;
pub mod shutdown;
pub mod subscribers;
pub mod telemetry;
