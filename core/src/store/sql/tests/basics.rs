//! Messages, dedupe, replies, receipts, leases, key-value state, listings.

use std::time::Duration;

use super::*;
use crate::{CallEvent, DeliveryUpdate, Direction, IdentityKind, InboundEvent, KvChanges, MessageKind, MessageStatus};

on_both_backends!(
    a_message_creates_person_identity_conversation,
    the_same_external_id_is_stored_once,
    replies_go_out_in_order_and_receipts_move_them_forward,
    an_expired_lease_is_claimed_again_and_the_stale_attempt_cannot_finish,
    retries_wait_and_failures_dead_letter,
    replies_need_an_address_on_the_chosen_connector,
    kv_writes_apply_only_if_what_was_read_is_unchanged,
    a_failed_batch_stores_nothing,
    listings_page_with_cursors,
    call_records_land_on_the_timeline_and_update_in_place,
    concurrent_webhooks_from_one_new_visitor_make_one_person,
);

async fn a_message_creates_person_identity_conversation(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut m = message("v1/m1", visitor("v1"), "hello");
    m.display_name = Some("Ann".into());
    let report = ingest(&t, m).await;
    assert_eq!(report.messages.len(), 1);

    let detail = only_conversation(&t).await;
    assert_eq!(detail.conversation.status, ConversationStatus::Open);
    assert_eq!(detail.conversation.channel, "webchat");
    assert_eq!(detail.conversation.workspace, "default");
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(detail.messages[0].text, "hello");
    assert_eq!(detail.messages[0].direction, Direction::Inbound);
    assert_eq!(detail.messages[0].status, MessageStatus::Received);

    let person = t.person(detail.conversation.person_id).await.unwrap().unwrap();
    assert_eq!(person.display_name.as_deref(), Some("Ann"));
    assert_eq!(person.identities.len(), 1);
    assert_eq!(person.identities[0].value, "webchat:v1");
    assert!(person.identities[0].is_address);
}

async fn the_same_external_id_is_stored_once(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let first = ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let second = ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    assert_eq!((first.messages.len(), first.duplicates), (1, 0));
    assert_eq!((second.messages.len(), second.duplicates), (0, 1));
    assert_eq!(only_conversation(&t).await.messages.len(), 1);
}

async fn replies_go_out_in_order_and_receipts_move_them_forward(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t).await.conversation;
    let first = t.enqueue_outbound(reply_to(conversation.id, "one")).await.unwrap();
    let second = t.enqueue_outbound(reply_to(conversation.id, "two")).await.unwrap();
    assert_eq!(first.status, MessageStatus::Queued);

    let now = t.clock.now();
    let jobs = t.claim_outbox(now, Duration::from_secs(30), 10, &[]).await.unwrap();
    assert_eq!(jobs.len(), 1, "only the oldest of a conversation is claimed");
    assert_eq!(jobs[0].message_id, first.id);
    assert_eq!(jobs[0].recipient.value, "webchat:v1");
    assert_eq!(jobs[0].reply_to.as_deref(), Some("v1/m1"));
    assert!(
        t.claim_outbox(now, Duration::from_secs(30), 10, &[])
            .await
            .unwrap()
            .is_empty()
    );
    // The second reply waits for the first: it is not due before the lease ends.
    assert_eq!(
        t.next_outbox_due(&[]).await.unwrap(),
        Some(now.plus(Duration::from_secs(30)))
    );

    let sent = SendOutcome::Sent {
        external_id: first.id.to_string(),
        status: MessageStatus::Sent,
    };
    t.finish_outbox(&jobs[0], sent, KvChanges::default()).await.unwrap();
    let jobs = t.claim_outbox(now, Duration::from_secs(30), 10, &[]).await.unwrap();
    assert_eq!(jobs[0].message_id, second.id);

    let receipt = DeliveryUpdate {
        external_id: first.id.to_string(),
        status: MessageStatus::Read,
        error: None,
        at: None,
    };
    let report = t
        .ingest(batch(vec![InboundEvent::Delivery(receipt.clone())]))
        .await
        .unwrap();
    assert_eq!(report.statuses_applied, 1);
    let late = DeliveryUpdate {
        status: MessageStatus::Delivered,
        ..receipt
    };
    let report = t.ingest(batch(vec![InboundEvent::Delivery(late)])).await.unwrap();
    assert_eq!(report.statuses_ignored, 1, "a late 'delivered' must not undo 'read'");

    let messages = only_conversation(&t).await.messages;
    assert_eq!(messages[1].status, MessageStatus::Read);
    assert_eq!(messages[2].status, MessageStatus::Queued);
}

async fn an_expired_lease_is_claimed_again_and_the_stale_attempt_cannot_finish(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t).await.conversation;
    t.enqueue_outbound(reply_to(conversation.id, "x")).await.unwrap();
    let now = t.clock.now();
    let stale = t
        .claim_outbox(now, Duration::from_millis(1), 1, &[])
        .await
        .unwrap()
        .remove(0);
    let later = now.plus(Duration::from_millis(10));
    let fresh = t
        .claim_outbox(later, Duration::from_secs(30), 1, &[])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(fresh.attempt, 2);
    let sent = SendOutcome::Sent {
        external_id: "e".into(),
        status: MessageStatus::Sent,
    };
    assert!(matches!(
        t.finish_outbox(&stale, sent.clone(), KvChanges::default()).await,
        Err(StoreError::LeaseLost(_))
    ));
    t.finish_outbox(&fresh, sent, KvChanges::default()).await.unwrap();
}

async fn retries_wait_and_failures_dead_letter(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t).await.conversation;
    t.enqueue_outbound(reply_to(conversation.id, "x")).await.unwrap();
    let now = t.clock.now();
    let job = t
        .claim_outbox(now, Duration::from_secs(30), 1, &[])
        .await
        .unwrap()
        .remove(0);
    let retry_at = now.plus(Duration::from_secs(60));
    t.finish_outbox(
        &job,
        SendOutcome::Retry {
            error: "429".into(),
            at: retry_at,
        },
        KvChanges::default(),
    )
    .await
    .unwrap();
    assert!(
        t.claim_outbox(now, Duration::from_secs(30), 1, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(t.next_outbox_due(&[]).await.unwrap(), Some(retry_at));

    let job = t
        .claim_outbox(retry_at, Duration::from_secs(30), 1, &[])
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
    assert_eq!(t.next_outbox_due(&[]).await.unwrap(), None);
    let messages = only_conversation(&t).await.messages;
    assert_eq!(messages[1].status, MessageStatus::Failed);
    assert_eq!(messages[1].error.as_deref(), Some("invalid recipient"));
}

async fn replies_need_an_address_on_the_chosen_connector(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t).await.conversation;
    let mut request = reply_to(conversation.id, "x");
    request.connector = Some(ConnectorId::new("sms").unwrap());
    let err = t.enqueue_outbound(request).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let err = t
        .enqueue_outbound(reply_to(ConversationId::new(), "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)));
}

async fn kv_writes_apply_only_if_what_was_read_is_unchanged(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut write = KvChanges::default();
    write.reads.insert("k".into(), None);
    write.writes.insert("k".into(), Some(b"1".to_vec()));
    t.ingest(IngestBatch {
        kv: write.clone(),
        ..batch(vec![])
    })
    .await
    .unwrap();
    assert_eq!(t.kv_get(&webchat(), "k").await.unwrap().unwrap().value, b"1");

    let err = t
        .ingest(IngestBatch {
            kv: write,
            ..batch(vec![])
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::KvConflict { .. }));

    let mut delete = KvChanges::default();
    delete.reads.insert("k".into(), Some(b"1".to_vec()));
    delete.writes.insert("k".into(), None);
    t.ingest(IngestBatch {
        kv: delete,
        ..batch(vec![])
    })
    .await
    .unwrap();
    assert!(t.kv_get(&webchat(), "k").await.unwrap().is_none());
    assert!(
        t.kv_get(&ConnectorId::new("other").unwrap(), "k")
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_failed_batch_stores_nothing(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut kv = KvChanges::default();
    kv.reads.insert("k".into(), Some(b"never written".to_vec()));
    let events = vec![InboundEvent::Message(message("v1/m1", visitor("v1"), "hello"))];
    assert!(t.ingest(IngestBatch { kv, ..batch(events) }).await.is_err());
    assert!(all_conversations(&t).await.is_empty());
}

async fn listings_page_with_cursors(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    for i in 0..5 {
        ingest(&t, message(&format!("v{i}/m"), visitor(&format!("v{i}")), "hi")).await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = t
            .conversations(ConversationQuery {
                limit: 2,
                cursor,
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);
    let bad = t
        .conversations(ConversationQuery {
            limit: 2,
            cursor: Some("garbage".into()),
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));
}

async fn call_records_land_on_the_timeline_and_update_in_place(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let call = |status: &str, duration: Option<u64>| CallEvent {
        external_id: "CA1".into(),
        party: claim(IdentityKind::Phone, "+14155552671", true),
        direction: Direction::Inbound,
        status: status.into(),
        started_at: None,
        duration_ms: duration,
        recording_url: None,
        transcript: None,
    };
    t.ingest(batch(vec![InboundEvent::Call(call("ringing", None))]))
        .await
        .unwrap();
    t.ingest(batch(vec![InboundEvent::Call(call("completed", Some(61_000)))]))
        .await
        .unwrap();
    let messages = only_conversation(&t).await.messages;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, MessageKind::Call);
    assert_eq!(messages[0].metadata["call_status"], "completed");
    assert_eq!(messages[0].metadata["duration_ms"], 61_000);
}

async fn concurrent_webhooks_from_one_new_visitor_make_one_person(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let store = std::sync::Arc::new(t.store.clone());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut m = message(&format!("v1/m{i}"), visitor("v1"), "hi");
            m.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
            store.ingest(batch(vec![InboundEvent::Message(m)])).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let detail = only_conversation(&t).await;
    assert_eq!(detail.messages.len(), 8);
    let person = t.person(detail.conversation.person_id).await.unwrap().unwrap();
    assert_eq!(person.identities.len(), 2, "{person:#?}");
}
