//! Statuses of messages the business sent, as delivery statuses.

use omni_plugin_sdk::prelude::*;

use crate::payload::Status;

/// The delivery status for `status`, or `None` (logged) for states Omni does not track.
pub fn delivery(host: &Host, status: &Status) -> Option<DeliveryStatus> {
    let state = match status.status.as_str() {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        // A voice message was played: it was certainly seen.
        "read" | "played" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        other => {
            host.debug(&format!("ignored WhatsApp status {other:?} of message {}", status.id));
            return None;
        }
    };
    if status.id.is_empty() {
        host.warn("ignored a WhatsApp status without a message id");
        return None;
    }
    let mut delivery = DeliveryStatus::new(&status.id, state);
    delivery.at = status.timestamp.map(|seconds| seconds.saturating_mul(1000));
    if state == DeliveryState::Failed {
        let reason = status
            .errors
            .iter()
            .map(|e| e.describe())
            .collect::<Vec<_>>()
            .join("; ");
        delivery.error = Some(if reason.is_empty() {
            "WhatsApp reported the message as failed without a reason".to_owned()
        } else {
            reason
        });
    }
    Some(delivery)
}
