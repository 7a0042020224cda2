//! `POST /webhook`: one Bot API `Update` becomes at most one event.
//!
//! - `message`: a [`InboundMessage`] with external id `<chat.id>:<message_id>`
//!   (message ids are only unique within a chat).
//! - `edited_message`: a new message `<chat.id>:<message_id>:edit:<edit_date>`
//!   whose text starts with `(edited) ` and whose `reply_to` is the original,
//!   so agents see the correction in the same conversation. Edits without
//!   text or caption (live-location updates, every few seconds) are ignored.
//! - `callback_query`: the button's data as a message `cb:<id>`, and the
//!   webhook answer calls `answerCallbackQuery` so the user's client stops
//!   its spinner.
//! - `my_chat_member`: logged (a user blocked or unblocked the bot), no event.
//! - anything else (`channel_post`, `inline_query`, `poll`, ...): 200, no event.
//!
//! Only private chats count unless the `accept_groups` config is true;
//! channels never do (their posts have no person as sender).

use omni_plugin_sdk::prelude::*;

use crate::update::{CallbackQuery, ChatMemberUpdated, Message, Update};
use crate::{identity, media};

/// Handles an authenticated `POST /webhook`.
pub fn receive(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let raw: serde_json::Value = request.json()?;
    let kind = Update::ignored_kind(&raw);
    let update: Update = serde_json::from_value(raw)
        .map_err(|e| PluginError::bad_request(format!("the body is not a Telegram Update: {e}")))?;
    let accept_groups: bool = host.config_or("accept_groups", false)?;

    if let Some(message) = &update.message {
        let event = message_event(host, message, accept_groups, false);
        return Ok(with_optional_event(WebhookOutcome::new(Response::ok()), event));
    }
    if let Some(message) = &update.edited_message {
        let event = message_event(host, message, accept_groups, true);
        return Ok(with_optional_event(WebhookOutcome::new(Response::ok()), event));
    }
    if let Some(query) = &update.callback_query {
        // Telegram runs a method given in the webhook response, which saves an
        // API call (it does not report the result; a lost answer only leaves
        // the button's spinner running until the client gives up).
        let answer = serde_json::json!({ "method": "answerCallbackQuery", "callback_query_id": query.id });
        let event = callback_event(host, query, accept_groups);
        return Ok(with_optional_event(
            WebhookOutcome::new(Response::json(200, &answer)),
            event,
        ));
    }
    if let Some(change) = &update.my_chat_member {
        log_membership(host, change);
        return Ok(WebhookOutcome::new(Response::ok()));
    }
    host.debug(&format!("ignoring a Telegram `{kind}` update {}", update.update_id));
    Ok(WebhookOutcome::new(Response::ok()))
}

fn with_optional_event(outcome: WebhookOutcome, event: Option<InboundMessage>) -> WebhookOutcome {
    match event {
        Some(event) => outcome.with_event(event),
        None => outcome,
    }
}

/// The chat is one the connector answers in.
fn chat_accepted(host: &Host, message: &Message, accept_groups: bool) -> bool {
    if message.chat.is_private() {
        return true;
    }
    let kind = message.chat.kind.as_deref().unwrap_or("group");
    if kind == "channel" || !accept_groups {
        host.debug(&format!(
            "ignoring a message in a Telegram {kind} (only private chats{})",
            if kind == "channel" {
                ""
            } else {
                "; set accept_groups to take groups"
            }
        ));
        return false;
    }
    true
}

fn message_event(host: &Host, message: &Message, accept_groups: bool, edited: bool) -> Option<InboundMessage> {
    if !chat_accepted(host, message, accept_groups) {
        return None;
    }
    let chat = message.chat.id;
    // Messages on behalf of a chat (anonymous admins, linked channels) and
    // from bots have no person behind them.
    let Some(from) = message
        .from
        .as_ref()
        .filter(|u| !u.is_bot && message.sender_chat.is_none())
    else {
        host.debug("ignoring a Telegram message without a person as sender");
        return None;
    };
    let caption = message.text.as_deref().or(message.caption.as_deref()).unwrap_or("");
    if edited && caption.is_empty() {
        host.debug("ignoring a Telegram edit without text (e.g. a live location update)");
        return None;
    }

    let mut text = caption.to_owned();
    if let Some(contact) = &message.contact {
        let name = [contact.first_name.as_deref(), contact.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        push_line(&mut text, &format!("Contact: {name} {}", contact.phone_number));
    }
    if let Some(venue) = &message.venue {
        let place = [venue.title.as_deref(), venue.address.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        push_line(&mut text, &format!("Venue: {place}"));
    }
    if let Some(location) = &message.location {
        push_line(
            &mut text,
            &format!("Location: geo:{},{}", location.latitude, location.longitude),
        );
    }
    if let Some(sticker) = &message.sticker
        && text.is_empty()
    {
        text = sticker.emoji.clone().unwrap_or_default();
    }
    let attachments = media::attachments(message);
    if text.trim().is_empty() && attachments.is_empty() {
        host.debug("ignoring a Telegram message with nothing to show (service message, poll, dice, ...)");
        return None;
    }

    let original = format!("{chat}:{}", message.message_id);
    let (external_id, reply_to, sent_at) = if edited {
        // The edit time tells edits apart and repeats in Telegram's retries.
        let edit = message.edit_date.unwrap_or(message.date);
        text = format!("(edited) {text}");
        (format!("{original}:edit:{edit}"), Some(original), edit)
    } else {
        let reply_to = message
            .reply_to_message
            .as_ref()
            .map(|replied| format!("{chat}:{}", replied.message_id));
        (original, reply_to, message.date)
    };

    let mut event =
        InboundMessage::new(external_id, identity::sender(from), text).with_sent_at(sent_at.saturating_mul(1000));
    event.attachments = attachments;
    event.reply_to = reply_to;
    event.thread_id = topic(message);
    if let Some(name) = identity::display_name(from) {
        event = event.with_display_name(name);
    }
    if let Some(claim) = message.contact.as_ref().and_then(|c| identity::contact_claim(c, from)) {
        event = event.with_claim(claim);
    }
    Some(event)
}

/// The forum topic as `<chat.id>:<message_thread_id>`: the host keys thread ids
/// per connector, and topic ids are only unique within a chat. Plain reply
/// threads of supergroups are not topics; `reply_to` links those.
fn topic(message: &Message) -> Option<String> {
    match (message.is_topic_message, message.message_thread_id) {
        (Some(true), Some(thread)) => Some(format!("{}:{thread}", message.chat.id)),
        _ => None,
    }
}

fn push_line(text: &mut String, line: &str) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(line);
}

fn callback_event(host: &Host, query: &CallbackQuery, accept_groups: bool) -> Option<InboundMessage> {
    if let Some(message) = &query.message
        && !chat_accepted(host, message, accept_groups)
    {
        return None;
    }
    let Some(data) = query.data.as_deref().filter(|d| !d.is_empty()) else {
        host.debug("ignoring a Telegram callback query without data (a game button)");
        return None;
    };
    if query.from.is_bot {
        return None;
    }
    // No send time: the query has none, and the message's date is when the
    // bot sent the keyboard, not when the button was pressed.
    let mut event = InboundMessage::new(format!("cb:{}", query.id), identity::sender(&query.from), data);
    if let Some(message) = &query.message {
        event.reply_to = Some(format!("{}:{}", message.chat.id, message.message_id));
        event.thread_id = topic(message);
    }
    if let Some(name) = identity::display_name(&query.from) {
        event = event.with_display_name(name);
    }
    Some(event)
}

fn log_membership(host: &Host, change: &ChatMemberUpdated) {
    let status = change.new_chat_member.status.as_str();
    if change.chat.is_private() {
        let what = match status {
            "kicked" => "blocked the bot; sends to them will fail until they unblock it",
            "member" => "started or unblocked the bot",
            _ => "changed the bot's status",
        };
        host.info(&format!("Telegram user {} {what} ({status})", change.from.id));
    } else {
        host.info(&format!(
            "the bot's status in Telegram chat {} is now {status}",
            change.chat.id
        ));
    }
}
