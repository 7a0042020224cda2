//! The trait a channel connector implements.

use crate::{
    Host, Identity, Manifest, OutboundMessage, PluginError, PollBatch, Request, SendError, SendReceipt, WebhookOutcome,
};

/// A channel connector. The host creates a fresh instance for every call, so
/// the functions take no `self`: keep state in the key-value store.
pub trait Channel {
    /// Describes the plugin; called once when the host loads it.
    fn manifest() -> Manifest;

    /// Handles one request to `/hooks/{instance}/{path}`.
    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError>;

    /// Sends a message to a person at `recipient` on this channel.
    fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError>;

    /// Fetches new events, for channels without webhooks. Only called when the
    /// manifest declares a poll interval.
    fn poll(host: &Host, cursor: Option<String>) -> Result<PollBatch, PluginError> {
        let _ = (host, cursor);
        Err(PluginError::Unsupported("this connector does not poll".to_owned()))
    }
}
