//! The delivery pipeline's store side: dead letters, early receipts,
//! connectors skipped while busy, claims given back.

use std::time::Duration;

use super::*;
use crate::{DeadLetterQuery, DeliveryUpdate, InboundEvent, KvChanges, MessageStatus};

on_both_backends!(
    dead_letters_are_listed_and_retried_with_a_fresh_budget,
    a_receipt_that_beats_its_send_is_applied_when_the_send_is_recorded,
    skipped_connectors_keep_their_rows_and_a_released_claim_does_not_count,
);

async fn dead_letter(t: &TestStore, text: &str) -> crate::Message {
    let conversation = only_conversation(t).await.conversation;
    let message = t.enqueue_outbound(reply_to(conversation.id, text)).await.unwrap();
    let job = t
        .claim_outbox(t.clock.now(), Duration::from_secs(30), 1, &[])
        .await
        .unwrap()
        .remove(0);
    t.finish_outbox(
        &job,
        SendOutcome::Failed {
            error: "invalid recipient".into(),
        },
        KvChanges::default(),
    )
    .await
    .unwrap();
    message
}

async fn dead_letters_are_listed_and_retried_with_a_fresh_budget(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let message = dead_letter(&t, "lost").await;
    let all = DeadLetterQuery {
        connector: None,
        after: None,
        limit: 10,
    };
    let dead = t.dead_letters(all.clone()).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, message.id);
    assert_eq!(dead[0].error, "invalid recipient");
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(dead[0].text, "lost");
    assert_eq!(dead[0].recipient.value, "webchat:v1");
    assert!(dead[0].dead_at.is_some());
    let other = DeadLetterQuery {
        connector: Some(ConnectorId::new("sms").unwrap()),
        ..all.clone()
    };
    assert!(t.dead_letters(other).await.unwrap().is_empty());
    let after = DeadLetterQuery {
        after: Some(dead[0].id),
        ..all.clone()
    };
    assert!(t.dead_letters(after).await.unwrap().is_empty());

    let requeued = t.retry_dead_letter(dead[0].id, "api:ops").await.unwrap();
    assert_eq!(requeued.status, MessageStatus::Queued);
    assert_eq!(requeued.error, None);
    assert!(t.dead_letters(all).await.unwrap().is_empty());
    assert!(matches!(
        t.retry_dead_letter(dead[0].id, "api:ops").await,
        Err(StoreError::NotFound(_))
    ));
    let job = t
        .claim_outbox(t.clock.now(), Duration::from_secs(30), 1, &[])
        .await
        .unwrap()
        .remove(0);
    assert_eq!((job.message_id, job.attempt), (message.id, 1));

    let conversation = only_conversation(&t).await.conversation;
    let timeline = t.timeline(conversation.person_id, None, 100).await.unwrap();
    assert!(
        timeline.items.iter().any(|e| e.kind == "message.requeued"),
        "{timeline:#?}"
    );
}

async fn a_receipt_that_beats_its_send_is_applied_when_the_send_is_recorded(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t).await.conversation;
    t.enqueue_outbound(reply_to(conversation.id, "fast")).await.unwrap();
    let job = t
        .claim_outbox(t.clock.now(), Duration::from_secs(30), 1, &[])
        .await
        .unwrap()
        .remove(0);
    let delivered = DeliveryUpdate {
        external_id: "SM1".into(),
        status: MessageStatus::Delivered,
        error: None,
        at: None,
    };
    for _ in 0..2 {
        // The provider may repeat its callback.
        let report = t
            .ingest(batch(vec![InboundEvent::Delivery(delivered.clone())]))
            .await
            .unwrap();
        assert_eq!((report.statuses_applied, report.statuses_early), (0, 1));
    }
    t.finish_outbox(
        &job,
        SendOutcome::Sent {
            external_id: "SM1".into(),
            status: MessageStatus::Sent,
        },
        KvChanges::default(),
    )
    .await
    .unwrap();
    let messages = only_conversation(&t).await.messages;
    assert_eq!(messages[1].status, MessageStatus::Delivered);
    assert_eq!(messages[1].external_id.as_deref(), Some("SM1"));

    // Applied once: a later `read` still moves it, a repeat `delivered` does not.
    let read = DeliveryUpdate {
        status: MessageStatus::Read,
        ..delivered.clone()
    };
    let report = t.ingest(batch(vec![InboundEvent::Delivery(read)])).await.unwrap();
    assert_eq!(report.statuses_applied, 1);
    let report = t.ingest(batch(vec![InboundEvent::Delivery(delivered)])).await.unwrap();
    assert_eq!((report.statuses_ignored, report.statuses_early), (1, 0));
}

async fn skipped_connectors_keep_their_rows_and_a_released_claim_does_not_count(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t).await.conversation;
    t.enqueue_outbound(reply_to(conversation.id, "one")).await.unwrap();
    let now = t.clock.now();
    let lease = Duration::from_secs(30);
    let busy = [webchat()];
    assert!(t.claim_outbox(now, lease, 5, &busy).await.unwrap().is_empty());
    assert_eq!(t.next_outbox_due(&busy).await.unwrap(), None);
    assert_eq!(t.next_outbox_due(&[]).await.unwrap(), Some(now));

    let job = t.claim_outbox(now, lease, 5, &[]).await.unwrap().remove(0);
    assert_eq!(job.attempt, 1);
    t.release_outbox(&job).await.unwrap();
    let again = t.claim_outbox(now, lease, 5, &[]).await.unwrap().remove(0);
    assert_eq!(
        (again.id, again.attempt),
        (job.id, 1),
        "a released claim is not an attempt"
    );
    // Releasing a claim that is no longer ours changes nothing.
    t.release_outbox(&job).await.unwrap();
    t.release_outbox(&again).await.unwrap();
    assert_eq!(t.claim_outbox(now, lease, 5, &[]).await.unwrap()[0].attempt, 1);
}
