//! Omni's Telegram connector, for a bot on the Telegram Bot API.
//!
//! Telegram posts every `Update` to `/hooks/{instance}/webhook`, the URL given
//! to `setWebhook` together with a `secret_token`; replies go out through
//! `sendMessage`, `sendPhoto` and `sendDocument`.
//!
//! Where things live:
//! - [`signature`]: the `X-Telegram-Bot-Api-Secret-Token` check (401 when missing or wrong).
//! - [`update`]: the Bot API objects of an update, as far as the connector reads them.
//! - [`inbound`]: which updates become which events.
//! - [`identity`]: senders, display names and the phone a shared own contact proves.
//! - [`media`]: photos, documents, voice notes, ... as attachment metadata.
//! - [`send`]: outbound messages as Bot API calls, resumable across retries.
//! - [`split`]: cutting texts over 4096 characters into pieces.
//! - [`response`]: the Bot API's answers, and which errors are worth retrying.
//!
//! Telegram reports no delivery or read receipts to bots, so sent messages
//! stay `sent`.

mod identity;
mod inbound;
mod media;
mod response;
mod send;
mod signature;
mod split;
mod update;

use omni_plugin_sdk::prelude::*;

pub use media::FILE_SCHEME;
pub use signature::SECRET_HEADER;
pub use split::MAX_TEXT_UNITS;

/// The Telegram connector.
pub struct Telegram;

/// Name of the secret holding the `secret_token` given to `setWebhook`.
pub const WEBHOOK_SECRET: &str = "webhook_secret";
/// Name of the secret holding the bot token from @BotFather.
pub const BOT_TOKEN: &str = "bot_token";
/// The Bot API's public endpoint.
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";
/// The webhook path below `/hooks/{instance}`.
pub const WEBHOOK_PATH: &str = "/webhook";

impl Channel for Telegram {
    fn manifest() -> Manifest {
        Manifest::new("telegram", "Telegram", env!("CARGO_PKG_VERSION"), ChannelKind::Telegram)
            .with_description(
                "A Telegram bot: receives the updates Telegram posts to the webhook (checked with the \
                 setWebhook secret token) and answers with sendMessage, sendPhoto and sendDocument.",
            )
            .with_secret(WEBHOOK_SECRET)
            .with_secret(BOT_TOKEN)
            // Remembers which parts of a long message were sent, for retries.
            .with_kv()
            .with_outbound_host("api.telegram.org")
            .with_config_schema(serde_json::json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "api_base": {
                        "type": "string",
                        "pattern": "^https?://",
                        "description": "Base URL of the Bot API, without /bot<token>; default https://api.telegram.org \
                                        (set it for a self-hosted Bot API server or a test server)."
                    },
                    "parse_mode": {
                        "type": "string",
                        "enum": ["MarkdownV2", "HTML", "Markdown"],
                        "description": "Telegram formatting applied to outbound text. Default: none, plain text, so \
                                        characters like * or < in a reply are shown as typed."
                    },
                    "accept_groups": {
                        "type": "boolean",
                        "description": "Also take messages people write in groups and supergroups the bot is in \
                                        (default false: private chats only). Replies then go to that group."
                    }
                }
            }))
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        if request.path.trim_end_matches('/') != WEBHOOK_PATH {
            return Err(PluginError::not_found(format!(
                "the Telegram connector has no route {}; Telegram posts to {WEBHOOK_PATH}",
                request.path
            )));
        }
        if !request.is("POST", WEBHOOK_PATH) {
            return Err(PluginError::Unsupported(format!(
                "{} is not allowed on {WEBHOOK_PATH}; Telegram posts updates",
                request.method
            )));
        }
        signature::verify(host, &request)?;
        inbound::receive(host, &request)
    }

    fn send(host: &Host, message: OutboundMessage, recipient: Identity) -> Result<SendReceipt, SendError> {
        send::deliver(host, message, recipient)
    }
}

omni_plugin_sdk::export_channel!(Telegram);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = Telegram::manifest();
        assert_eq!(manifest.id, "telegram");
        assert_eq!(manifest.kind, ChannelKind::Telegram);
        assert_eq!(
            manifest.capabilities.secrets,
            vec![WEBHOOK_SECRET.to_owned(), BOT_TOKEN.to_owned()]
        );
        assert_eq!(
            manifest.capabilities.outbound_hosts,
            vec!["api.telegram.org".to_owned()]
        );
        assert!(manifest.capabilities.kv);
        testing::documented_config_schema(&manifest);
    }

    #[test]
    fn unknown_routes_and_methods_are_refused() {
        let mock = testing::MockHost::new();
        let error = Telegram::handle_webhook(&mock.host(), Request::post("/hooks", "{}")).unwrap_err();
        assert_eq!(error.status(), 404);
        let error = Telegram::handle_webhook(&mock.host(), Request::get("/webhook")).unwrap_err();
        assert_eq!(error.status(), 405);
    }
}
