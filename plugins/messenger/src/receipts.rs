//! Delivery and read receipts, as delivery statuses of the messages sent.

use omni_plugin_sdk::prelude::*;

use crate::payload::{Delivery, Read, millis};
use crate::sent_log;

fn status(mid: &str, state: DeliveryState, at: Option<i64>) -> DeliveryStatus {
    let mut status = DeliveryStatus::new(mid, state);
    status.at = at;
    status
}

/// A delivery receipt: the messages it names, or without names (older
/// clients) the remembered messages sent up to its watermark.
pub fn delivered(host: &Host, user: &str, delivery: &Delivery) -> Result<Vec<DeliveryStatus>, PluginError> {
    let at = delivery.watermark.map(millis);
    let named: Vec<&String> = delivery.mids.iter().filter(|mid| !mid.is_empty()).collect();
    if !named.is_empty() {
        return Ok(named
            .into_iter()
            .map(|mid| status(mid, DeliveryState::Delivered, at))
            .collect());
    }
    let Some(watermark) = at else {
        host.debug("ignored a delivery receipt without mids or watermark");
        return Ok(Vec::new());
    };
    Ok(sent_log::up_to(host, user, watermark)?
        .iter()
        .map(|sent| status(&sent.mid, DeliveryState::Delivered, at))
        .collect())
}

/// A read receipt: every remembered message sent up to the watermark
/// (Messenger), or up to and including the message named (Instagram).
pub fn read(host: &Host, user: &str, read: &Read, at: Option<i64>) -> Result<Vec<DeliveryStatus>, PluginError> {
    if let Some(watermark) = read.watermark.map(millis) {
        return Ok(sent_log::take_up_to(host, user, watermark)?
            .iter()
            .map(|sent| status(&sent.mid, DeliveryState::Read, Some(watermark)))
            .collect());
    }
    if let Some(mid) = read.mid.as_deref().filter(|mid| !mid.is_empty()) {
        let mut statuses: Vec<DeliveryStatus> = sent_log::take_through(host, user, mid)?
            .iter()
            .map(|sent| status(&sent.mid, DeliveryState::Read, at))
            .collect();
        // The message named was read even if it is no longer remembered.
        if !statuses.iter().any(|s| s.external_id == mid) {
            statuses.push(status(mid, DeliveryState::Read, at));
        }
        return Ok(statuses);
    }
    host.debug("ignored a read receipt without watermark or mid");
    Ok(Vec::new())
}
