//! The event stream: positions in commit order, subscriber cursors and
//! leases, parked events in order per person, dead letters, replays,
//! record links and cached profiles.

use std::time::Duration;

use super::*;
use crate::{NewParked, ParkedOutcome, ParkedState, StartAt};

on_both_backends!(
    positions_follow_commit_order_under_concurrent_writers,
    a_new_subscriber_starts_at_the_beginning_or_now,
    a_lease_keeps_other_holders_out_until_it_expires,
    a_moved_cursor_refuses_a_stale_advance,
    parked_events_come_back_in_order_per_person,
    dead_letters_free_the_person_and_can_be_retried,
    a_replay_moves_the_cursor_and_drops_waiting_rows_after_it,
    a_record_id_joins_the_person_as_trusted_identity,
    an_operator_merge_joins_persons_with_two_records_of_one_crm,
    profiles_are_cached_per_integration_and_person,
);

/// The person of the most recently active conversation.
async fn newest_person(t: &TestStore) -> PersonId {
    all_conversations(t).await[0].person_id
}

fn later(t: &TestStore, by: Duration) -> Timestamp {
    Timestamp::from_millis(t.clock.now().as_millis() + by.as_millis() as i64)
}

async fn positions_follow_commit_order_under_concurrent_writers(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let store = std::sync::Arc::new(t.store.clone());
    // A reader follows the log while 8 writers append; it must never see a
    // position below one it has already passed (that event would be lost to
    // a subscriber whose cursor moved past it).
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..15 {
                    let m = message(&format!("w{w}/m{i}"), visitor(&format!("w{w}")), "hi");
                    store.ingest(batch(vec![InboundEvent::Message(m)])).await.unwrap();
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut done = false;
    while !done {
        done = writers.iter().all(|w| w.is_finished());
        for event in store.events_after(cursor, 1000).await.unwrap() {
            assert!(event.position > cursor);
            cursor = event.position;
            seen.push(event.position);
        }
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let all: Vec<i64> = store
        .events_after(0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(seen, all, "the follower missed events that committed behind its cursor");
    assert_eq!(
        all,
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "positions have no gaps"
    );
    assert_eq!(store.event_head().await.unwrap(), all.len() as i64);
    let received = store
        .events_after(0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "message.received")
        .count();
    assert_eq!(received, 120);
}

async fn a_new_subscriber_starts_at_the_beginning_or_now(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("m1", visitor("v1"), "hi")).await;
    let head = t.event_head().await.unwrap();
    assert!(head >= 3, "person, identity, conversation and message events");
    let lease = later(&t, Duration::from_secs(30));
    let all = t
        .acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
        .await
        .unwrap();
    let new = t.acquire_subscriber("hook", StartAt::Now, "h1", lease).await.unwrap();
    assert_eq!(all, Some(0));
    assert_eq!(new, Some(head));
    // An existing subscriber keeps its cursor whatever `start` says.
    t.advance_subscriber("crm", "h1", 0, 2, Vec::new(), lease)
        .await
        .unwrap();
    let again = t.acquire_subscriber("crm", StartAt::Now, "h1", lease).await.unwrap();
    assert_eq!(again, Some(2));
    let status = t.subscribers().await.unwrap();
    let crm = status.iter().find(|s| s.name == "crm").unwrap();
    assert_eq!((crm.position, crm.lag), (2, head - 2));
}

async fn a_lease_keeps_other_holders_out_until_it_expires(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let lease = later(&t, Duration::from_secs(30));
    assert_eq!(
        t.acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(
        t.acquire_subscriber("crm", StartAt::Beginning, "h2", lease)
            .await
            .unwrap(),
        None
    );
    t.clock.advance(Duration::from_secs(31));
    let lease = later(&t, Duration::from_secs(30));
    assert_eq!(
        t.acquire_subscriber("crm", StartAt::Beginning, "h2", lease)
            .await
            .unwrap(),
        Some(0)
    );
    // The first holder lost it: its advance is refused.
    let err = t
        .advance_subscriber("crm", "h1", 0, 1, Vec::new(), lease)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SubscriberMoved(_)), "{err}");
    // A released lease is free at once.
    t.release_subscriber("crm", "h2").await.unwrap();
    assert_eq!(
        t.acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
            .await
            .unwrap(),
        Some(0)
    );
}

async fn a_moved_cursor_refuses_a_stale_advance(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let lease = later(&t, Duration::from_secs(30));
    t.acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
        .await
        .unwrap();
    t.advance_subscriber("crm", "h1", 0, 5, Vec::new(), lease)
        .await
        .unwrap();
    t.replay_subscriber("crm", 0).await.unwrap();
    let err = t
        .advance_subscriber("crm", "h1", 5, 9, Vec::new(), lease)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SubscriberMoved(_)), "{err}");
    assert_eq!(
        t.acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
            .await
            .unwrap(),
        Some(0)
    );
}

fn parked(position: i64, person: &str, attempts: u32, at: Timestamp) -> NewParked {
    NewParked {
        position,
        person_key: person.to_owned(),
        attempts,
        next_attempt_at: at,
        error: (attempts > 0).then(|| "CRM answered 503".to_owned()),
        state: ParkedState::Waiting,
    }
}

async fn parked_events_come_back_in_order_per_person(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let lease = later(&t, Duration::from_secs(30));
    let now = t.clock.now();
    let soon = later(&t, Duration::from_secs(10));
    t.acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
        .await
        .unwrap();
    // Ann's event 3 failed (retry in 10 s); her event 5 waits behind it;
    // Bob's event 4 failed with a retry due now.
    let rows = vec![
        parked(3, "ann", 1, soon),
        parked(4, "bob", 1, now),
        parked(5, "ann", 0, now),
    ];
    t.advance_subscriber("crm", "h1", 0, 6, rows, lease).await.unwrap();
    let mut waiting = t.waiting_persons("crm").await.unwrap();
    waiting.sort();
    assert_eq!(waiting, vec!["ann", "bob"]);

    let due = t.parked_due("crm", 10).await.unwrap();
    assert_eq!(
        due.iter().map(|p| p.position).collect::<Vec<_>>(),
        vec![4],
        "ann's 5 waits behind her 3"
    );
    assert_eq!(t.parked_next_due("crm").await.unwrap(), Some(now));
    t.finish_parked(due[0].id, ParkedOutcome::Delivered).await.unwrap();
    assert_eq!(t.parked_next_due("crm").await.unwrap(), Some(soon));

    t.clock.advance(Duration::from_secs(10));
    let due = t.parked_due("crm", 10).await.unwrap();
    assert_eq!(due.iter().map(|p| p.position).collect::<Vec<_>>(), vec![3]);
    assert_eq!(due[0].attempts, 1);
    t.finish_parked(due[0].id, ParkedOutcome::Delivered).await.unwrap();
    let due = t.parked_due("crm", 10).await.unwrap();
    assert_eq!(due.iter().map(|p| p.position).collect::<Vec<_>>(), vec![5]);
    t.finish_parked(due[0].id, ParkedOutcome::Delivered).await.unwrap();
    assert!(t.waiting_persons("crm").await.unwrap().is_empty());
    assert_eq!(t.parked_next_due("crm").await.unwrap(), None);
}

async fn dead_letters_free_the_person_and_can_be_retried(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let lease = later(&t, Duration::from_secs(30));
    let now = t.clock.now();
    t.acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
        .await
        .unwrap();
    let rows = vec![parked(3, "ann", 1, now), parked(5, "ann", 0, now)];
    t.advance_subscriber("crm", "h1", 0, 6, rows, lease).await.unwrap();
    let due = t.parked_due("crm", 10).await.unwrap();
    t.finish_parked(
        due[0].id,
        ParkedOutcome::Dead {
            error: "CRM refused: invalid email".into(),
        },
    )
    .await
    .unwrap();
    let due = t.parked_due("crm", 10).await.unwrap();
    assert_eq!(
        due.iter().map(|p| p.position).collect::<Vec<_>>(),
        vec![5],
        "the dead letter no longer blocks"
    );

    let dead = t.subscriber_dead_letters(Some("crm"), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].position, dead[0].state, dead[0].attempts),
        (3, ParkedState::Dead, 2)
    );
    assert_eq!(dead[0].last_error.as_deref(), Some("CRM refused: invalid email"));
    assert!(t.subscriber_dead_letters(Some("other"), 10).await.unwrap().is_empty());

    let retried = t.retry_subscriber_dead_letter(dead[0].id).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (ParkedState::Waiting, 0));
    let due = t.parked_due("crm", 10).await.unwrap();
    assert_eq!(due.iter().map(|p| p.position).collect::<Vec<_>>(), vec![3]);
    let err = t.retry_subscriber_dead_letter(dead[0].id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
}

async fn a_replay_moves_the_cursor_and_drops_waiting_rows_after_it(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let lease = later(&t, Duration::from_secs(30));
    let now = t.clock.now();
    t.acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
        .await
        .unwrap();
    let rows = vec![parked(2, "ann", 1, now), parked(7, "bob", 1, now)];
    t.advance_subscriber("crm", "h1", 0, 8, rows, lease).await.unwrap();
    t.replay_subscriber("crm", 4).await.unwrap();
    let due = t.parked_due("crm", 10).await.unwrap();
    assert_eq!(due.iter().map(|p| p.position).collect::<Vec<_>>(), vec![2]);
    assert_eq!(
        t.acquire_subscriber("crm", StartAt::Beginning, "h1", lease)
            .await
            .unwrap(),
        Some(4)
    );
    // Replaying a subscriber that never ran creates it at that position.
    t.replay_subscriber("fresh", 3).await.unwrap();
    assert_eq!(
        t.acquire_subscriber("fresh", StartAt::Now, "h1", lease).await.unwrap(),
        Some(3)
    );
    assert!(matches!(
        t.replay_subscriber("crm", -1).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn a_record_id_joins_the_person_as_trusted_identity(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("m1", visitor("v1"), "hi")).await;
    let person = newest_person(&t).await;
    let record = IdentityKey::normalize(IdentityKind::CrmId, "501", "hubspot").unwrap();
    let before = t.event_head().await.unwrap();
    assert_eq!(t.link_record(person, record.clone(), "hubspot").await.unwrap(), person);
    // Linking again changes nothing.
    t.link_record(person, record.clone(), "hubspot").await.unwrap();
    let p = t.person(person).await.unwrap().unwrap();
    let crm = p
        .identities
        .iter()
        .find(|i| i.kind == IdentityKind::CrmId)
        .expect("record id on the person");
    assert_eq!((crm.value.as_str(), crm.verified), ("hubspot:501", true));
    assert_eq!(p.links.iter().filter(|l| l.trusted).count(), 1, "{:#?}", p.links);
    let added: Vec<_> = t.events_after(before, 100).await.unwrap();
    assert_eq!(
        added.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["identity.added"]
    );

    // The same record id returned for another person stays put and suggests.
    t.clock.advance(Duration::from_secs(1));
    ingest(&t, message("m2", visitor("v2"), "hello")).await;
    let other = newest_person(&t).await;
    t.link_record(other, record, "hubspot").await.unwrap();
    let suggestions = t.suggestions(other).await.unwrap();
    assert_eq!(suggestions.len(), 1, "{suggestions:#?}");
    assert!(
        t.person(other)
            .await
            .unwrap()
            .unwrap()
            .identities
            .iter()
            .all(|i| i.kind != IdentityKind::CrmId)
    );
}

async fn an_operator_merge_joins_persons_with_two_records_of_one_crm(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("m1", visitor("v1"), "hi")).await;
    let a = newest_person(&t).await;
    t.clock.advance(Duration::from_secs(1));
    ingest(&t, message("m2", visitor("v2"), "hi")).await;
    let b = newest_person(&t).await;
    let record = |id: &str| IdentityKey::normalize(IdentityKind::CrmId, id, "hubspot").unwrap();
    t.link_record(a, record("1"), "hubspot").await.unwrap();
    t.link_record(b, record("2"), "hubspot").await.unwrap();
    let decision = Decision {
        actor: "operator:sam".into(),
        reason: "same customer".into(),
    };
    let merged = t.merge_persons(a, b, decision).await.unwrap();
    let crm: Vec<_> = merged
        .identities
        .iter()
        .filter(|i| i.kind == IdentityKind::CrmId)
        .collect();
    assert_eq!(crm.len(), 2);
}

async fn profiles_are_cached_per_integration_and_person(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("m1", visitor("v1"), "hi")).await;
    let person = newest_person(&t).await;
    let shop = ConnectorId::new("shopify").unwrap();
    assert_eq!(t.cached_profile(&shop, person).await.unwrap(), None);
    t.store_profile(&shop, person, Some(serde_json::json!({ "orders": 2 })))
        .await
        .unwrap();
    let (data, at) = t.cached_profile(&shop, person).await.unwrap().unwrap();
    assert_eq!((data, at), (Some(serde_json::json!({ "orders": 2 })), t.clock.now()));
    t.clock.advance(Duration::from_secs(5));
    t.store_profile(&shop, person, None).await.unwrap();
    assert_eq!(
        t.cached_profile(&shop, person).await.unwrap(),
        Some((None, t.clock.now()))
    );
    let crm = ConnectorId::new("hubspot").unwrap();
    assert_eq!(t.cached_profile(&crm, person).await.unwrap(), None);
}
