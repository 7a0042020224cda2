//! Channel metrics on a fixture whose answers are known.

use std::time::Duration;

use super::*;
use crate::metrics::MetricsQuery;
use crate::{ConversationUpdate, CsatEvent, IdentityKind, InboundEvent, MessageStatus, SendOutcome};

on_both_backends!(metrics_on_a_known_fixture);

/// Sends every queued reply with the given outcome.
async fn send_all(t: &TestStore, outcome: impl Fn() -> SendOutcome) {
    loop {
        let jobs = t
            .claim_outbox(t.clock.now(), Duration::from_secs(30), 10, &[])
            .await
            .unwrap();
        if jobs.is_empty() {
            return;
        }
        for job in jobs {
            t.finish_outbox(&job, outcome(), KvChanges::default()).await.unwrap();
        }
    }
}

fn resolved() -> ConversationUpdate {
    ConversationUpdate {
        status: Some(ConversationStatus::Resolved),
        ..Default::default()
    }
}

fn csat(id: &str, who: &str, score: u8) -> InboundEvent {
    InboundEvent::Csat(CsatEvent {
        external_id: id.into(),
        subject: visitor(who),
        score,
        scale: 5,
        comment: None,
        at: None,
    })
}

async fn metrics_on_a_known_fixture(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let start = t.clock.now();
    let sent = || SendOutcome::Sent {
        external_id: uuid::Uuid::now_v7().to_string(),
        status: MessageStatus::Sent,
    };
    let failed = || SendOutcome::Failed {
        error: "invalid recipient".into(),
    };
    let minutes = |m: u64| Duration::from_secs(60 * m);

    // Web chat A: answered after 1 min, resolved at 5 min with one reply (first contact), CSAT 5.
    ingest(&t, message("a/1", visitor("a"), "help")).await;
    let a = all_conversations(&t).await[0].id;
    t.clock.advance(minutes(1));
    t.enqueue_outbound(reply_to(a, "sure")).await.unwrap();
    send_all(&t, sent).await;
    t.clock.advance(minutes(4));
    t.update_conversation(a, resolved(), "agent").await.unwrap();
    t.ingest(batch(vec![csat("s-a", "a", 5)])).await.unwrap();

    // Web chat B: starts at 5 min, answered after 3 min, two replies, resolved at 15 min, CSAT 3.
    ingest(&t, message("b/1", visitor("b"), "question")).await;
    let b = all_conversations(&t).await.iter().find(|c| c.id != a).unwrap().id;
    t.clock.advance(minutes(3));
    t.enqueue_outbound(reply_to(b, "one")).await.unwrap();
    t.enqueue_outbound(reply_to(b, "two")).await.unwrap();
    send_all(&t, sent).await;
    t.clock.advance(minutes(7));
    t.update_conversation(b, resolved(), "agent").await.unwrap();
    t.ingest(batch(vec![csat("s-b", "b", 3)])).await.unwrap();

    // Email C: starts at 15 min, answered after 60 min, the reply fails; not resolved.
    let ann = claim(IdentityKind::Email, "c@example.com", true);
    ingest_on(&t, "email", "email", message("<c1@mail>", ann, "by email")).await;
    let c = all_conversations(&t)
        .await
        .iter()
        .find(|x| x.id != a && x.id != b)
        .unwrap()
        .id;
    t.clock.advance(minutes(60));
    t.enqueue_outbound(reply_to(c, "answer")).await.unwrap();
    send_all(&t, failed).await;

    let report = t
        .metrics(MetricsQuery {
            from: start,
            to: t.clock.now().plus(minutes(1)),
        })
        .await
        .unwrap();
    let webchat = report.channels.iter().find(|m| m.channel == "webchat").unwrap();
    assert_eq!((webchat.inbound_messages, webchat.outbound_messages), (2, 3));
    assert_eq!(webchat.conversations_started, 2);
    assert_eq!(webchat.first_response.count, 2);
    assert_eq!(webchat.first_response.median_ms, Some(60_000));
    assert_eq!(webchat.first_response.p90_ms, Some(180_000));
    assert_eq!(webchat.resolution.median_ms, Some(300_000));
    assert_eq!(webchat.resolution.p90_ms, Some(600_000));
    assert_eq!(
        (webchat.resolved_conversations, webchat.first_contact_resolutions),
        (2, 1)
    );
    assert_eq!(webchat.first_contact_resolution_rate, Some(0.5));
    assert_eq!(webchat.csat.count, 2);
    assert_eq!(webchat.csat.average, Some(4.0));
    assert_eq!(webchat.csat.satisfied_rate, Some(0.5));
    assert_eq!(webchat.delivery_failure_rate, Some(0.0));

    let email = report.channels.iter().find(|m| m.channel == "email").unwrap();
    assert_eq!(email.first_response.median_ms, Some(3_600_000));
    assert_eq!(email.resolved_conversations, 0);
    assert_eq!(email.first_contact_resolution_rate, None);
    assert_eq!((email.outbound_messages, email.failed_deliveries), (1, 1));
    assert_eq!(email.delivery_failure_rate, Some(1.0));
    assert_eq!(report.connectors.len(), 2);
    assert_eq!(
        report.connectors[0].connector_id.as_ref().map(|c| c.as_str()),
        Some("email")
    );

    // A range before everything is empty.
    let empty = t
        .metrics(MetricsQuery {
            from: start.minus(minutes(60)),
            to: start,
        })
        .await
        .unwrap();
    assert!(empty.channels.is_empty());
}
