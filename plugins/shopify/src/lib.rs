//! Omni's Shopify integration: the shop's customers and orders for agents,
//! and abandoned checkouts and new orders on persons' timelines.
//!
//! It speaks the Admin REST API (version 2024-10 by default, [`api`]) with a
//! custom app's access token. [`link`] follows the host's log: when a person
//! gains an email address or phone number, the matching Shopify customer is
//! searched and returned as the person's record, which the host links.
//! [`profile`] answers lookups with the customer (found by that record, else
//! by email, else by phone — [`customer`]) and their latest orders.
//! [`webhook`] takes Shopify's signed webhooks at `/webhooks`: an open
//! checkout with a contact becomes a `checkout.abandoned` event, a new order
//! an `order.created` event.
//!
//! Identity: emails and phone numbers from checkouts and orders are
//! unverified claims — the shop collected them, nobody proved them — so the
//! host never merges persons on their strength alone. Customer searches keep
//! exact matches only, since a wrong match would show a stranger's orders.

#![warn(missing_docs)]

pub mod api;
pub mod customer;
pub mod link;
pub mod profile;
pub mod timestamp;
pub mod webhook;

use omni_plugin_sdk::prelude::*;

/// The Shopify integration.
pub struct Shopify;

impl Integration for Shopify {
    fn manifest() -> Manifest {
        Manifest::new("shopify", "Shopify", env!("CARGO_PKG_VERSION"), ChannelKind::Other)
            .with_description(
                "Shopify customers and their latest orders for agents, through a custom app's Admin API token; \
                 abandoned checkouts and new orders from the app's signed webhooks on the buyer's timeline. \
                 List the shop's host (e.g. acme.myshopify.com) in `allowed_hosts`.",
            )
            .with_secret(api::ACCESS_TOKEN)
            .with_secret(webhook::WEBHOOK_SECRET)
            .with_config_schema(config_schema())
    }

    fn on_event(host: &Host, event: DomainEvent) -> Result<EventOutcome, IntegrationError> {
        link::on_event(host, &event)
    }

    fn lookup(host: &Host, person: Person) -> Result<Option<Profile>, IntegrationError> {
        profile::lookup(host, &person)
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        match (request.method.as_str(), request.path.trim_end_matches('/')) {
            ("POST", "/webhooks") => webhook::receive(host, &request),
            (_, "/webhooks") => Err(PluginError::Unsupported(format!(
                "{} is not allowed on /webhooks; Shopify posts webhooks",
                request.method
            ))),
            _ => Err(PluginError::not_found(format!(
                "the Shopify integration has no route {}; subscribe webhooks to /webhooks",
                request.path
            ))),
        }
    }
}

omni_plugin_sdk::export_integration!(Shopify);

/// JSON Schema of the instance's `config` table.
fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": ["shop_domain"],
        "properties": {
            "shop_domain": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9-]*(\\.[A-Za-z0-9-]+)+$",
                "description": "The shop's permanent domain, e.g. acme.myshopify.com; the API base URL, the admin links \
                                and the check of webhooks' X-Shopify-Shop-Domain use it."
            },
            "api_base": {
                "type": "string",
                "pattern": "^https?://[^\\s]+$",
                "description": "Base URL of the Admin API (/admin/api/{api_version}/… is appended); default \
                                https://{shop_domain}. For a local stand-in or a proxy."
            },
            "api_version": {
                "type": "string",
                "pattern": "^([0-9]{4}-[0-9]{2}|unstable)$",
                "description": "Admin REST API version, default 2024-10."
            },
            "orders_limit": {
                "type": "integer",
                "minimum": 0,
                "maximum": 20,
                "description": "How many of the customer's latest orders a lookup shows, default 5; 0 shows none \
                                (one API call fewer)."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mock = testing::MockHost::new();
        assert_eq!(
            Shopify::handle_webhook(&mock.host(), Request::get("/webhooks"))
                .unwrap_err()
                .status(),
            405
        );
        assert_eq!(
            Shopify::handle_webhook(&mock.host(), Request::post("/orders", "{}"))
                .unwrap_err()
                .status(),
            404
        );
    }
}
