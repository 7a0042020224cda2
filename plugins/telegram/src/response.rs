//! Reading the Bot API's answer to a send: `{"ok":true,"result":Message}`,
//! or `{"ok":false,"error_code","description","parameters"}` classified as
//! retryable or permanent (https://core.telegram.org/bots/api#making-requests).

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

use crate::BOT_TOKEN;

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
}

/// Telegram's hints for retrying (https://core.telegram.org/bots/api#responseparameters).
#[derive(Debug, Default, Deserialize)]
struct ResponseParameters {
    /// Seconds to wait after a flood-control refusal.
    #[serde(default)]
    retry_after: Option<u64>,
    /// The supergroup a group became; the old chat id is gone.
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
}

/// The sent message as `<chat.id>:<message_id>`, the same form inbound
/// messages have, so a user's reply to it finds the conversation.
pub fn sent_message_id(response: &IncomingResponse) -> Result<String, SendError> {
    let answer: Option<Answer> = response.json_body().ok();
    if response.is_success() && answer.as_ref().is_none_or(|a| a.ok) {
        let result = answer.and_then(|a| a.result);
        let id = result.as_ref().and_then(|message| {
            let chat = message.get("chat")?.get("id")?.as_i64()?;
            let message_id = message.get("message_id")?.as_i64()?;
            Some(format!("{chat}:{message_id}"))
        });
        // Retrying would send the message a second time.
        return id.ok_or_else(|| {
            SendError::permanent(
                "Telegram accepted the message but its answer has no message id; \
                 not retrying so the person does not get it twice",
            )
        });
    }
    Err(classify(response, answer))
}

fn classify(response: &IncomingResponse, answer: Option<Answer>) -> SendError {
    let (code, description, parameters) = match answer {
        Some(answer) => (
            answer.error_code.unwrap_or(response.status),
            answer.description.unwrap_or_default(),
            answer.parameters.unwrap_or_default(),
        ),
        None => (
            response.status,
            response.text().chars().take(300).collect(),
            ResponseParameters::default(),
        ),
    };
    let description = if description.trim().is_empty() {
        "no description".to_owned()
    } else {
        description
    };
    let message = format!("Telegram answered {code}: {description}");
    match code {
        429 => SendError::Retryable {
            message,
            after_ms: parameters
                .retry_after
                .map(|seconds| seconds.saturating_mul(1000))
                .or_else(|| response.retry_after_ms()),
        },
        408 | 425 | 500..=599 => SendError::Retryable {
            message,
            after_ms: response.retry_after_ms(),
        },
        // The Bot API answers 404 to a malformed token and 401 to a revoked one.
        401 | 404 => SendError::permanent(format!(
            "{message} (Telegram refused the bot token; check the `{BOT_TOKEN}` secret)"
        )),
        _ => match parameters.migrate_to_chat_id {
            Some(new_chat) => SendError::permanent(format!(
                "{message} (the group is now the supergroup {new_chat}; the person must write again from there)"
            )),
            // 403 (blocked, deactivated, never started the bot), 400 (chat not
            // found, bad markup): the same request would fail the same way.
            None => SendError::permanent(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_success_without_a_message_is_not_retried() {
        let response = IncomingResponse::json(200, &json!({"ok": true, "result": true}));
        assert!(matches!(sent_message_id(&response), Err(SendError::Permanent { .. })));
        let response = IncomingResponse::new(200, "<html>");
        assert!(matches!(sent_message_id(&response), Err(SendError::Permanent { .. })));
    }

    #[test]
    fn gateway_errors_without_json_are_retryable_and_honour_retry_after() {
        let response = IncomingResponse::new(502, "<html>Bad Gateway</html>").with_header("Retry-After", "7");
        assert_eq!(
            sent_message_id(&response),
            Err(SendError::Retryable {
                message: "Telegram answered 502: <html>Bad Gateway</html>".to_owned(),
                after_ms: Some(7_000)
            })
        );
    }

    #[test]
    fn a_migrated_group_names_the_new_chat() {
        let response = IncomingResponse::json(
            400,
            &json!({"ok": false, "error_code": 400,
                    "description": "Bad Request: group chat was upgraded to a supergroup chat",
                    "parameters": {"migrate_to_chat_id": -1001234567890_i64}}),
        );
        match sent_message_id(&response) {
            Err(SendError::Permanent { message }) => assert!(message.contains("-1001234567890"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
}
