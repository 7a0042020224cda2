//! Channel metrics: which channel lags, computed from stored facts.
//!
//! Definitions (per channel, and per connector instance; a conversation
//! counts for the channel it started on):
//! - first response time: from the conversation's first inbound message to
//!   the business's first reply, for conversations started in the range;
//! - resolution time: from the first inbound message to resolution, for
//!   conversations resolved in the range;
//! - first-contact resolution: a conversation resolved in the range with
//!   exactly one reply from the business and never reopened, out of all
//!   conversations resolved in the range;
//! - CSAT: answers in the range, rescaled to 1–5; "satisfied" is 4 or more;
//! - delivery failure rate: outbound messages created in the range that
//!   ended `failed`, out of all outbound messages created in the range.
//!
//! Percentiles use the nearest-rank method.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ConnectorId, Direction, MessageStatus, Timestamp};

/// The time range of a report, `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsQuery {
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
}

/// Count, median and 90th percentile of durations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DurationStats {
    /// How many durations.
    pub count: u64,
    /// Median, milliseconds.
    pub median_ms: Option<i64>,
    /// 90th percentile, milliseconds.
    pub p90_ms: Option<i64>,
}

impl DurationStats {
    /// Stats of a list of durations in milliseconds.
    pub fn of(mut durations: Vec<i64>) -> Self {
        durations.sort_unstable();
        Self {
            count: durations.len() as u64,
            median_ms: nearest_rank(&durations, 0.5),
            p90_ms: nearest_rank(&durations, 0.9),
        }
    }
}

/// The `q` quantile of sorted values by nearest rank.
fn nearest_rank(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// CSAT answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsatStats {
    /// Answers.
    pub count: u64,
    /// Average on a 1–5 scale.
    pub average: Option<f64>,
    /// Share of answers of 4 or more (on 1–5).
    pub satisfied_rate: Option<f64>,
}

/// The figures of one channel or connector instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelMetrics {
    /// Channel kind, e.g. `webchat`.
    pub channel: String,
    /// Connector instance, in the per-connector list.
    pub connector_id: Option<ConnectorId>,
    /// Messages from persons.
    pub inbound_messages: u64,
    /// Messages from the business.
    pub outbound_messages: u64,
    /// Conversations started.
    pub conversations_started: u64,
    /// First response time.
    pub first_response: DurationStats,
    /// Resolution time.
    pub resolution: DurationStats,
    /// Conversations resolved.
    pub resolved_conversations: u64,
    /// Of those, resolved on first contact.
    pub first_contact_resolutions: u64,
    /// `first_contact_resolutions / resolved_conversations`.
    pub first_contact_resolution_rate: Option<f64>,
    /// Satisfaction answers.
    pub csat: CsatStats,
    /// Outbound messages that failed.
    pub failed_deliveries: u64,
    /// `failed_deliveries / outbound_messages`.
    pub delivery_failure_rate: Option<f64>,
}

/// Metrics over a time range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsReport {
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
    /// Per channel kind.
    pub channels: Vec<ChannelMetrics>,
    /// Per connector instance.
    pub connectors: Vec<ChannelMetrics>,
}

/// The stored facts a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct MetricsFacts {
    /// Messages created in the range.
    pub messages: Vec<MessageFact>,
    /// Conversations started in the range.
    pub started: Vec<ConversationFact>,
    /// Conversations resolved in the range.
    pub resolved: Vec<ConversationFact>,
    /// CSAT answers in the range.
    pub csat: Vec<CsatFact>,
}

/// A message, for metrics.
#[derive(Debug, Clone)]
pub struct MessageFact {
    /// Connector instance.
    pub connector: ConnectorId,
    /// Channel kind.
    pub channel: String,
    /// Direction.
    pub direction: Direction,
    /// Current status.
    pub status: MessageStatus,
}

/// A conversation, for metrics, attributed to where it started.
#[derive(Debug, Clone)]
pub struct ConversationFact {
    /// Connector instance of the first message.
    pub connector: ConnectorId,
    /// Channel of the first message.
    pub channel: String,
    /// First inbound message.
    pub first_inbound_at: Option<Timestamp>,
    /// First reply of the business.
    pub first_response_at: Option<Timestamp>,
    /// Resolution.
    pub resolved_at: Option<Timestamp>,
    /// Times reopened.
    pub reopen_count: i64,
    /// Replies from the business.
    pub outbound_count: i64,
}

/// A CSAT answer, for metrics.
#[derive(Debug, Clone)]
pub struct CsatFact {
    /// Connector instance.
    pub connector: ConnectorId,
    /// Channel kind.
    pub channel: String,
    /// Score.
    pub score: u8,
    /// Top of the scale.
    pub scale: u8,
}

#[derive(Default)]
struct Accumulator {
    inbound: u64,
    outbound: u64,
    failed: u64,
    started: u64,
    first_response: Vec<i64>,
    resolution: Vec<i64>,
    resolved: u64,
    first_contact: u64,
    csat: Vec<f64>,
}

impl Accumulator {
    fn finish(self, channel: String, connector_id: Option<ConnectorId>) -> ChannelMetrics {
        let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        let csat_count = self.csat.len() as u64;
        let satisfied = self.csat.iter().filter(|s| **s >= 4.0).count() as u64;
        ChannelMetrics {
            channel,
            connector_id,
            inbound_messages: self.inbound,
            outbound_messages: self.outbound,
            conversations_started: self.started,
            first_response: DurationStats::of(self.first_response),
            resolution: DurationStats::of(self.resolution),
            resolved_conversations: self.resolved,
            first_contact_resolutions: self.first_contact,
            first_contact_resolution_rate: ratio(self.first_contact, self.resolved),
            csat: CsatStats {
                count: csat_count,
                average: (csat_count > 0).then(|| self.csat.iter().sum::<f64>() / csat_count as f64),
                satisfied_rate: ratio(satisfied, csat_count),
            },
            failed_deliveries: self.failed,
            delivery_failure_rate: ratio(self.failed, self.outbound),
        }
    }
}

/// A score on a 1–`scale` scale, rescaled to 1–5.
pub fn rescale_csat(score: u8, scale: u8) -> f64 {
    if scale <= 1 {
        return 5.0;
    }
    let score = score.clamp(1, scale) as f64;
    1.0 + (score - 1.0) * 4.0 / (scale as f64 - 1.0)
}

/// Computes a report from facts.
pub fn aggregate(query: &MetricsQuery, facts: &MetricsFacts) -> MetricsReport {
    let mut channels: BTreeMap<String, Accumulator> = BTreeMap::new();
    let mut connectors: BTreeMap<(ConnectorId, String), Accumulator> = BTreeMap::new();
    let mut both = |connector: &ConnectorId, channel: &str, f: &dyn Fn(&mut Accumulator)| {
        f(channels.entry(channel.to_owned()).or_default());
        f(connectors.entry((connector.clone(), channel.to_owned())).or_default());
    };
    for m in &facts.messages {
        both(&m.connector, &m.channel, &|a| match m.direction {
            Direction::Inbound => a.inbound += 1,
            Direction::Outbound => {
                a.outbound += 1;
                if m.status == MessageStatus::Failed {
                    a.failed += 1;
                }
            }
        });
    }
    for c in &facts.started {
        both(&c.connector, &c.channel, &|a| {
            a.started += 1;
            if let (Some(first), Some(response)) = (c.first_inbound_at, c.first_response_at) {
                a.first_response.push(response.as_millis() - first.as_millis());
            }
        });
    }
    for c in &facts.resolved {
        both(&c.connector, &c.channel, &|a| {
            a.resolved += 1;
            if let (Some(first), Some(resolved)) = (c.first_inbound_at, c.resolved_at) {
                a.resolution.push(resolved.as_millis() - first.as_millis());
            }
            if c.reopen_count == 0 && c.outbound_count == 1 {
                a.first_contact += 1;
            }
        });
    }
    for c in &facts.csat {
        let score = rescale_csat(c.score, c.scale);
        both(&c.connector, &c.channel, &|a| a.csat.push(score));
    }
    MetricsReport {
        from: query.from,
        to: query.to,
        channels: channels
            .into_iter()
            .map(|(channel, a)| a.finish(channel, None))
            .collect(),
        connectors: connectors
            .into_iter()
            .map(|((connector, channel), a)| a.finish(channel, Some(connector)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let stats = DurationStats::of(vec![50, 10, 40, 20, 30, 60, 70, 80, 90, 100]);
        assert_eq!((stats.count, stats.median_ms, stats.p90_ms), (10, Some(50), Some(90)));
        assert_eq!(DurationStats::of(vec![7]).p90_ms, Some(7));
        assert_eq!(DurationStats::of(vec![]).median_ms, None);
    }

    #[test]
    fn csat_is_rescaled_to_five_points() {
        assert_eq!(rescale_csat(5, 5), 5.0);
        assert_eq!(rescale_csat(1, 5), 1.0);
        assert_eq!(rescale_csat(10, 10), 5.0);
        assert!((rescale_csat(8, 10) - 4.111).abs() < 0.01);
    }
}
