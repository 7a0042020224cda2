//! Delivery receipts (`POST /status`): Twilio's message status callbacks.
//!
//! `send` asks Twilio to post them here (`StatusCallback`), keyed by the same
//! `MessageSid` that `send` returned, so they match the host's outbound message.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio;

/// Handles `POST /status`.
pub fn receipt(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let form = twilio::verify(host, request)?;
    let message_sid = form.sid(&["MessageSid", "SmsSid"])?;
    let status = form
        .get("MessageStatus")
        .or_else(|| form.get("SmsStatus"))
        .ok_or_else(|| PluginError::bad_request("the `MessageStatus` parameter is missing"))?;

    let state = match status {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "undelivered" | "failed" | "canceled" => DeliveryState::Failed,
        // Steps before the carrier has the message: the host already counts it as sent.
        "queued" | "sending" | "accepted" | "scheduled" => return Ok(WebhookOutcome::new(Response::no_content())),
        other => {
            host.debug(&format!("ignored message status {other:?} for {message_sid}"));
            return Ok(WebhookOutcome::new(Response::no_content()));
        }
    };
    let mut receipt = DeliveryStatus::new(message_sid, state);
    if state == DeliveryState::Failed {
        receipt.error = Some(failure(status, form.get("ErrorCode"), form.get("ErrorMessage")));
    }
    // Twilio's status callbacks carry no event time; the host stamps the receipt on arrival.
    Ok(WebhookOutcome::new(Response::no_content()).with_event(receipt))
}

/// The reason of a failed message, for agents and operators:
/// `undelivered: Twilio error 30003 (unreachable destination handset)`.
fn failure(status: &str, code: Option<&str>, message: Option<&str>) -> String {
    let mut text = status.to_owned();
    if let Some(code) = code {
        text.push_str(&format!(": Twilio error {code}"));
        match message.or_else(|| known_error(code)) {
            Some(detail) => text.push_str(&format!(" ({detail})")),
            None => text.push_str(&format!(" (https://www.twilio.com/docs/errors/{code})")),
        }
    } else if let Some(message) = message {
        text.push_str(&format!(": {message}"));
    } else if status == "canceled" {
        text.push_str(": the scheduled message was canceled before sending");
    }
    text
}

/// Twilio's descriptions of the usual delivery errors, since status callbacks
/// usually carry only the code.
fn known_error(code: &str) -> Option<&'static str> {
    Some(match code {
        "30001" => "queue overflow",
        "30002" => "account suspended",
        "30003" => "unreachable destination handset",
        "30004" => "message blocked",
        "30005" => "unknown destination handset",
        "30006" => "landline or unreachable carrier",
        "30007" => "message filtered by the carrier",
        "30008" => "unknown error",
        "30032" => "toll-free number not verified",
        "30034" => "message from an unregistered 10DLC number",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_code() {
        assert_eq!(
            failure("undelivered", Some("30003"), None),
            "undelivered: Twilio error 30003 (unreachable destination handset)"
        );
        assert_eq!(
            failure("failed", Some("30410"), Some("Provider Timeout Error")),
            "failed: Twilio error 30410 (Provider Timeout Error)"
        );
        assert_eq!(
            failure("failed", Some("39999"), None),
            "failed: Twilio error 39999 (https://www.twilio.com/docs/errors/39999)"
        );
        assert_eq!(failure("failed", None, None), "failed");
    }
}
