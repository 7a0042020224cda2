//! The store's behaviour, exercised on a real SQLite file.

use std::time::Duration;

use super::*;

struct TestStore {
    store: SqliteStore,
    _dir: tempfile::TempDir,
}

async fn open_with(options: StoreOptions) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("omni.db").display());
    TestStore {
        store: SqliteStore::open(&url, options).await.unwrap(),
        _dir: dir,
    }
}

async fn open() -> TestStore {
    open_with(StoreOptions::default()).await
}

fn webchat() -> ConnectorId {
    ConnectorId::new("webchat").unwrap()
}

fn visitor(id: &str) -> IdentityClaim {
    IdentityClaim {
        key: IdentityKey::normalize(IdentityKind::ChannelUser, id, "webchat").unwrap(),
        verified: false,
    }
}

fn claim(kind: IdentityKind, value: &str, verified: bool) -> IdentityClaim {
    IdentityClaim {
        key: IdentityKey::normalize(kind, value, "webchat").unwrap(),
        verified,
    }
}

fn message(external_id: &str, sender: IdentityClaim, text: &str) -> InboundMessage {
    InboundMessage {
        external_id: external_id.to_owned(),
        sender,
        claims: Vec::new(),
        display_name: None,
        text: text.to_owned(),
        attachments: Vec::new(),
        thread_id: None,
        reply_to: None,
        sent_at: None,
    }
}

fn batch(events: Vec<InboundEvent>) -> IngestBatch {
    IngestBatch {
        connector: webchat(),
        channel: "webchat".to_owned(),
        events,
        kv: KvChanges::default(),
    }
}

async fn ingest(store: &SqliteStore, m: InboundMessage) -> IngestReport {
    store.ingest(batch(vec![InboundEvent::Message(m)])).await.unwrap()
}

fn reply_to(conversation_id: ConversationId, text: &str) -> NewOutbound {
    NewOutbound {
        conversation_id,
        text: text.to_owned(),
        attachments: Vec::new(),
        connector: None,
    }
}

async fn only_conversation(store: &SqliteStore) -> ConversationDetail {
    let page = store
        .conversations(ConversationQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "{page:?}");
    store.conversation(page.items[0].id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_message_creates_person_identity_conversation() {
    let t = open().await;
    let mut m = message("v1/m1", visitor("v1"), "hello");
    m.display_name = Some("Ann".into());
    let report = ingest(&t.store, m).await;
    assert_eq!(report.messages.len(), 1);

    let detail = only_conversation(&t.store).await;
    assert_eq!(detail.conversation.status, ConversationStatus::Open);
    assert_eq!(detail.conversation.channel, "webchat");
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(detail.messages[0].text, "hello");
    assert_eq!(detail.messages[0].direction, Direction::Inbound);
    assert_eq!(detail.messages[0].status, MessageStatus::Received);

    let person = t.store.person(detail.conversation.person_id).await.unwrap().unwrap();
    assert_eq!(person.display_name.as_deref(), Some("Ann"));
    assert_eq!(person.identities.len(), 1);
    assert_eq!(person.identities[0].value, "webchat:v1");
    assert_eq!(person.identities[0].source, "webchat");
}

#[tokio::test]
async fn the_same_external_id_is_stored_once() {
    let t = open().await;
    let first = ingest(&t.store, message("v1/m1", visitor("v1"), "hello")).await;
    let second = ingest(&t.store, message("v1/m1", visitor("v1"), "hello")).await;
    assert_eq!((first.messages.len(), first.duplicates), (1, 0));
    assert_eq!((second.messages.len(), second.duplicates), (0, 1));
    assert_eq!(only_conversation(&t.store).await.messages.len(), 1);
}

#[tokio::test]
async fn a_second_message_continues_the_open_conversation() {
    let t = open().await;
    ingest(&t.store, message("v1/m1", visitor("v1"), "hello")).await;
    ingest(&t.store, message("v1/m2", visitor("v1"), "anyone?")).await;
    let detail = only_conversation(&t.store).await;
    let texts: Vec<_> = detail.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello", "anyone?"]);
}

#[tokio::test]
async fn outside_the_window_a_new_conversation_starts() {
    let t = open_with(StoreOptions {
        conversation_window: Duration::ZERO,
    })
    .await;
    ingest(&t.store, message("v1/m1", visitor("v1"), "hello")).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    ingest(&t.store, message("v1/m2", visitor("v1"), "back again")).await;
    let page = t
        .store
        .conversations(ConversationQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].person_id, page.items[1].person_id);
}

#[tokio::test]
async fn a_verified_claim_finds_the_existing_person() {
    let t = open().await;
    let mut first = message("v1/m1", visitor("v1"), "from my laptop");
    first.claims = vec![claim(IdentityKind::ExternalId, "user-42", true)];
    ingest(&t.store, first).await;
    let mut second = message("v2/m1", visitor("v2"), "from my phone");
    second.claims = vec![claim(IdentityKind::ExternalId, "user-42", true)];
    ingest(&t.store, second).await;

    let detail = only_conversation(&t.store).await;
    assert_eq!(detail.messages.len(), 2);
    let person = t.store.person(detail.conversation.person_id).await.unwrap().unwrap();
    let values: Vec<_> = person.identities.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(values, ["webchat:v1", "user-42", "webchat:v2"]);
}

#[tokio::test]
async fn an_unverified_claim_never_links_persons() {
    let t = open().await;
    let mut first = message("v1/m1", visitor("v1"), "hi");
    first.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
    ingest(&t.store, first).await;
    let mut second = message("v2/m1", visitor("v2"), "I am Ann, honest");
    second.claims = vec![claim(IdentityKind::Email, "Ann@Example.com", false)];
    ingest(&t.store, second).await;

    let page = t
        .store
        .conversations(ConversationQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let impostor = page.items.iter().find(|c| c.id != page.items[1].id).unwrap();
    let person = t.store.person(impostor.person_id).await.unwrap().unwrap();
    assert_eq!(person.identities.len(), 1);
    assert_eq!(person.claims.len(), 1);
    assert_eq!(person.claims[0].value, "Ann@example.com");
}

#[tokio::test]
async fn replies_go_out_in_order_and_receipts_move_them_forward() {
    let t = open().await;
    ingest(&t.store, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t.store).await.conversation;
    let first = t
        .store
        .enqueue_outbound(reply_to(conversation.id, "one"))
        .await
        .unwrap();
    let second = t
        .store
        .enqueue_outbound(reply_to(conversation.id, "two"))
        .await
        .unwrap();
    assert_eq!(first.status, MessageStatus::Queued);

    let now = Timestamp::now();
    let jobs = t.store.claim_outbox(now, Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "only the oldest of a conversation is claimed");
    assert_eq!(jobs[0].message_id, first.id);
    assert_eq!(jobs[0].recipient.value, "webchat:v1");
    assert_eq!(jobs[0].reply_to.as_deref(), Some("v1/m1"));
    // Leased: not claimable again, and the next one waits behind it.
    assert!(
        t.store
            .claim_outbox(now, Duration::from_secs(30), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let sent = SendOutcome::Sent {
        external_id: first.id.to_string(),
        status: MessageStatus::Sent,
    };
    t.store
        .finish_outbox(&jobs[0], sent, KvChanges::default())
        .await
        .unwrap();
    let jobs = t.store.claim_outbox(now, Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(jobs[0].message_id, second.id);

    let receipt = DeliveryUpdate {
        external_id: first.id.to_string(),
        status: MessageStatus::Read,
        error: None,
        at: None,
    };
    let report = t
        .store
        .ingest(batch(vec![InboundEvent::Delivery(receipt.clone())]))
        .await
        .unwrap();
    assert_eq!(report.statuses_applied, 1);
    let late = DeliveryUpdate {
        status: MessageStatus::Delivered,
        ..receipt
    };
    let report = t.store.ingest(batch(vec![InboundEvent::Delivery(late)])).await.unwrap();
    assert_eq!(report.statuses_ignored, 1, "a late 'delivered' must not undo 'read'");

    let messages = only_conversation(&t.store).await.messages;
    assert_eq!(messages[1].status, MessageStatus::Read);
    assert_eq!(messages[2].status, MessageStatus::Queued);
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_and_the_stale_attempt_cannot_finish() {
    let t = open().await;
    ingest(&t.store, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t.store).await.conversation;
    t.store.enqueue_outbound(reply_to(conversation.id, "x")).await.unwrap();
    let now = Timestamp::now();
    let stale = t
        .store
        .claim_outbox(now, Duration::from_millis(1), 1)
        .await
        .unwrap()
        .remove(0);
    let later = now.plus(Duration::from_millis(10));
    let fresh = t
        .store
        .claim_outbox(later, Duration::from_secs(30), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(fresh.attempt, 2);
    let sent = SendOutcome::Sent {
        external_id: "e".into(),
        status: MessageStatus::Sent,
    };
    assert!(matches!(
        t.store.finish_outbox(&stale, sent.clone(), KvChanges::default()).await,
        Err(StoreError::LeaseLost(_))
    ));
    t.store.finish_outbox(&fresh, sent, KvChanges::default()).await.unwrap();
}

#[tokio::test]
async fn retries_wait_and_failures_dead_letter() {
    let t = open().await;
    ingest(&t.store, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t.store).await.conversation;
    t.store.enqueue_outbound(reply_to(conversation.id, "x")).await.unwrap();
    let now = Timestamp::now();
    let job = t
        .store
        .claim_outbox(now, Duration::from_secs(30), 1)
        .await
        .unwrap()
        .remove(0);
    let retry_at = now.plus(Duration::from_secs(60));
    t.store
        .finish_outbox(
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
        t.store
            .claim_outbox(now, Duration::from_secs(30), 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(t.store.next_outbox_due().await.unwrap(), Some(retry_at));

    let job = t
        .store
        .claim_outbox(retry_at, Duration::from_secs(30), 1)
        .await
        .unwrap()
        .remove(0);
    t.store
        .finish_outbox(
            &job,
            SendOutcome::Failed {
                error: "invalid recipient".into(),
            },
            KvChanges::default(),
        )
        .await
        .unwrap();
    assert_eq!(t.store.next_outbox_due().await.unwrap(), None);
    let messages = only_conversation(&t.store).await.messages;
    assert_eq!(messages[1].status, MessageStatus::Failed);
    assert_eq!(messages[1].error.as_deref(), Some("invalid recipient"));
}

#[tokio::test]
async fn replies_need_an_address_on_the_chosen_connector() {
    let t = open().await;
    ingest(&t.store, message("v1/m1", visitor("v1"), "hello")).await;
    let conversation = only_conversation(&t.store).await.conversation;
    let err = t
        .store
        .enqueue_outbound(NewOutbound {
            conversation_id: conversation.id,
            text: "x".into(),
            attachments: vec![],
            connector: Some(ConnectorId::new("sms").unwrap()),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let missing = ConversationId::new();
    let err = t.store.enqueue_outbound(reply_to(missing, "x")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)));
}

#[tokio::test]
async fn kv_writes_apply_only_if_what_was_read_is_unchanged() {
    let t = open().await;
    let mut write = KvChanges::default();
    write.reads.insert("k".into(), None);
    write.writes.insert("k".into(), Some(b"1".to_vec()));
    t.store
        .ingest(IngestBatch {
            kv: write.clone(),
            ..batch(vec![])
        })
        .await
        .unwrap();
    assert_eq!(t.store.kv_get(&webchat(), "k").await.unwrap().unwrap().value, b"1");

    // A second call that also saw the key absent lost the race.
    let err = t
        .store
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
    t.store
        .ingest(IngestBatch {
            kv: delete,
            ..batch(vec![])
        })
        .await
        .unwrap();
    assert!(t.store.kv_get(&webchat(), "k").await.unwrap().is_none());
    // Keys are private to their connector instance.
    assert!(
        t.store
            .kv_get(&ConnectorId::new("other").unwrap(), "k")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_failed_batch_stores_nothing() {
    let t = open().await;
    let mut kv = KvChanges::default();
    kv.reads.insert("k".into(), Some(b"never written".to_vec()));
    let events = vec![InboundEvent::Message(message("v1/m1", visitor("v1"), "hello"))];
    assert!(t.store.ingest(IngestBatch { kv, ..batch(events) }).await.is_err());
    let page = t
        .store
        .conversations(ConversationQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn listings_page_with_cursors() {
    let t = open().await;
    for i in 0..5 {
        ingest(&t.store, message(&format!("v{i}/m"), visitor(&format!("v{i}")), "hi")).await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = t
            .store
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
    seen.dedup();
    assert_eq!(seen.len(), 5);
    let bad = t
        .store
        .conversations(ConversationQuery {
            limit: 2,
            cursor: Some("garbage".into()),
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));
}

#[tokio::test]
async fn call_records_land_on_the_timeline_and_update_in_place() {
    let t = open().await;
    let call = |status: &str, duration: Option<u64>| CallEvent {
        external_id: "CA1".into(),
        party: claim(IdentityKind::Phone, "+14155550100", true),
        direction: Direction::Inbound,
        status: status.into(),
        started_at: None,
        duration_ms: duration,
        recording_url: None,
        transcript: None,
    };
    t.store
        .ingest(batch(vec![InboundEvent::Call(call("ringing", None))]))
        .await
        .unwrap();
    t.store
        .ingest(batch(vec![InboundEvent::Call(call("completed", Some(61_000)))]))
        .await
        .unwrap();
    let messages = only_conversation(&t.store).await.messages;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind, MessageKind::Call);
    assert_eq!(messages[0].metadata["call_status"], "completed");
    assert_eq!(messages[0].metadata["duration_ms"], 61_000);
}
