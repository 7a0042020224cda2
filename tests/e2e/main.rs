//! End-to-end tests: the real `omni` binary, a real config and SQLite file,
//! driven over HTTP.

mod channels;
mod commerce;
mod config;
mod conformance;
mod containment;
mod crash;
mod crm;
mod delivery;
mod events;
mod flood;
mod identity;
mod line;
mod malformed;
mod operations;
mod outgoing;
mod persons_cli;
mod pipeline;
mod reload;
mod salesforce;
mod scale_out;
mod scopes;
mod twilio;
mod webchat;
