//! The Omni host: loads channel connectors as sandboxed WebAssembly
//! components, runs provider webhooks through them into the conversation
//! store, and sends agents' replies back out.
//!
//! Map of the crate: [`config`] reads `omni.toml`; [`runtime`] is the
//! wasmtime sandbox (engine, limits, precompiled cache, host functions);
//! [`connector`] is the host's view of a loaded connector; [`ingest`] and
//! [`events`] are the inbound path from webhook to store transaction;
//! [`dispatch`] is the outbound path from outbox to plugin `send`; [`http`]
//! is the axum server (hooks, `/v1` API, OpenAPI); [`app`] wires it all up
//! and [`cli`] is the `omni` command.

pub mod app;
pub mod cli;
pub mod config;
pub mod connector;
pub mod contention;
pub mod dispatch;
pub mod events;
pub mod http;
pub mod ingest;
pub mod runtime;
pub mod shutdown;
pub mod telemetry;
