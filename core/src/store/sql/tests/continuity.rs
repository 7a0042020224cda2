//! One conversation across channels; threads, windows, status, timelines.

use std::time::Duration;

use super::*;
use crate::store::AfterResolved;
use crate::{ConversationUpdate, CsatEvent, DeliveryUpdate, IdentityKind, InboundEvent, MessageStatus, SendOutcome};

on_both_backends!(
    a_chat_continues_by_email_as_one_conversation,
    after_the_window_a_new_conversation_starts,
    email_threading_continues_an_older_conversation,
    channel_thread_ids_continue_their_conversation,
    a_pending_conversation_reopens_for_work_when_the_person_writes,
    a_resolved_conversation_reopens_within_the_reopen_window,
    a_resolved_conversation_stays_closed_when_configured,
    status_assignee_and_tags_are_updated_and_logged,
    the_timeline_shows_everything_in_order_with_pages,
);

async fn a_chat_continues_by_email_as_one_conversation(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut chat = message("v1/m1", visitor("v1"), "Where is my order?");
    chat.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
    ingest(&t, chat).await;
    t.clock.advance(Duration::from_secs(3600));
    // The email arrives with the domain in capitals: the same identity.
    let email = message(
        "<e1@mail>",
        claim(IdentityKind::Email, "ann@EXAMPLE.COM", true),
        "Any news?",
    );
    ingest_on(&t, "email", "email", email).await;

    let detail = only_conversation(&t).await;
    let channels: Vec<_> = detail.messages.iter().map(|m| m.channel.as_str()).collect();
    assert_eq!(channels, ["webchat", "email"]);
    assert_eq!(detail.conversation.channel, "email");
    let timeline = t.timeline(detail.conversation.person_id, None, 100).await.unwrap();
    let switch = timeline
        .items
        .iter()
        .find(|e| e.kind == "conversation.channel_switched")
        .unwrap();
    assert_eq!(switch.data["from"], "webchat");
    assert_eq!(switch.data["to"], "email");
}

async fn after_the_window_a_new_conversation_starts(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    t.clock.advance(Duration::from_secs(8 * 24 * 3600));
    ingest(&t, message("v1/m2", visitor("v1"), "back again")).await;
    let conversations = all_conversations(&t).await;
    assert_eq!(conversations.len(), 2);
    assert_eq!(conversations[0].person_id, conversations[1].person_id);
}

async fn email_threading_continues_an_older_conversation(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let ann = claim(IdentityKind::Email, "ann@example.com", true);
    ingest_on(&t, "email", "email", message("<first@mail>", ann.clone(), "order 1")).await;
    t.clock.advance(Duration::from_secs(10 * 24 * 3600));
    ingest_on(
        &t,
        "email",
        "email",
        message("<second@mail>", ann.clone(), "a new topic"),
    )
    .await;
    t.clock.advance(Duration::from_secs(3600));
    // A reply to the first thread, long after the window.
    let mut reply = message("<third@mail>", ann.clone(), "re: order 1");
    reply.reply_to = Some("<first@mail>".into());
    reply.references = vec!["<first@mail>".into()];
    ingest_on(&t, "email", "email", reply).await;

    let conversations = all_conversations(&t).await;
    assert_eq!(conversations.len(), 2);
    for c in conversations {
        let texts: Vec<String> = t
            .conversation(c.id)
            .await
            .unwrap()
            .unwrap()
            .messages
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert!(
            texts == ["order 1", "re: order 1"] || texts == ["a new topic"],
            "{texts:?}"
        );
    }
}

async fn channel_thread_ids_continue_their_conversation(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut first = message("m1", visitor("u1"), "thread A");
    first.thread_id = Some("T-A".into());
    ingest(&t, first).await;
    t.clock.advance(Duration::from_secs(30 * 24 * 3600));
    ingest(&t, message("m2", visitor("u1"), "unthreaded, much later")).await;
    let mut again = message("m3", visitor("u1"), "back in thread A");
    again.thread_id = Some("T-A".into());
    ingest(&t, again).await;
    let conversations = all_conversations(&t).await;
    assert_eq!(conversations.len(), 2);
    for c in &conversations {
        let texts: Vec<String> = t
            .conversation(c.id)
            .await
            .unwrap()
            .unwrap()
            .messages
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert!(
            texts == ["thread A", "back in thread A"] || texts == ["unthreaded, much later"],
            "{texts:?}"
        );
    }
}

async fn a_pending_conversation_reopens_for_work_when_the_person_writes(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let id = only_conversation(&t).await.conversation.id;
    let update = ConversationUpdate {
        status: Some(ConversationStatus::Pending),
        ..Default::default()
    };
    t.update_conversation(id, update, "agent:bo").await.unwrap();
    ingest(&t, message("v1/m2", visitor("v1"), "here is the info")).await;
    let detail = only_conversation(&t).await;
    assert_eq!(detail.conversation.status, ConversationStatus::Open);
    assert_eq!(detail.messages.len(), 2);
}

async fn a_resolved_conversation_reopens_within_the_reopen_window(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let id = only_conversation(&t).await.conversation.id;
    let resolve = ConversationUpdate {
        status: Some(ConversationStatus::Resolved),
        ..Default::default()
    };
    t.update_conversation(id, resolve.clone(), "agent:bo").await.unwrap();
    t.clock.advance(Duration::from_secs(3600));
    ingest(&t, message("v1/m2", visitor("v1"), "one more thing")).await;
    let detail = only_conversation(&t).await;
    assert_eq!(detail.conversation.status, ConversationStatus::Open);
    assert_eq!(detail.conversation.reopen_count, 1);
    // Resolved again and silent for longer than the reopen window: a new one starts.
    t.update_conversation(id, resolve, "agent:bo").await.unwrap();
    t.clock.advance(Duration::from_secs(4 * 24 * 3600));
    ingest(&t, message("v1/m3", visitor("v1"), "new question")).await;
    assert_eq!(all_conversations(&t).await.len(), 2);
}

async fn a_resolved_conversation_stays_closed_when_configured(kind: Kind) {
    let Some(t) = open_with(
        kind,
        StoreOptions {
            after_resolved: AfterResolved::New,
            ..options()
        },
    )
    .await
    else {
        return;
    };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let id = only_conversation(&t).await.conversation.id;
    let resolve = ConversationUpdate {
        status: Some(ConversationStatus::Resolved),
        ..Default::default()
    };
    t.update_conversation(id, resolve, "agent:bo").await.unwrap();
    ingest(&t, message("v1/m2", visitor("v1"), "one more thing")).await;
    assert_eq!(all_conversations(&t).await.len(), 2);
}

async fn status_assignee_and_tags_are_updated_and_logged(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let id = only_conversation(&t).await.conversation.id;
    let update = ConversationUpdate {
        status: Some(ConversationStatus::Resolved),
        assignee: Some("bo".into()),
        tags: Some(vec!["billing".into(), " vip ".into(), "billing".into()]),
    };
    let updated = t.update_conversation(id, update, "agent:bo").await.unwrap();
    assert_eq!(updated.status, ConversationStatus::Resolved);
    assert_eq!(updated.assignee.as_deref(), Some("bo"));
    assert_eq!(updated.tags, ["billing", "vip"]);
    assert!(updated.resolved_at.is_some());
    let unassign = ConversationUpdate {
        assignee: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(
        t.update_conversation(id, unassign, "agent:bo").await.unwrap().assignee,
        None
    );
    let bad = ConversationUpdate {
        tags: Some(vec!["\u{0}".into()]),
        ..Default::default()
    };
    assert!(matches!(
        t.update_conversation(id, bad, "agent:bo").await,
        Err(StoreError::Invalid(_))
    ));
    let timeline = t.timeline(updated.person_id, None, 100).await.unwrap();
    assert!(
        timeline
            .items
            .iter()
            .any(|e| e.kind == "conversation.resolved" && e.data["by"] == "agent:bo")
    );
}

async fn the_timeline_shows_everything_in_order_with_pages(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    ingest(&t, message("v1/m1", visitor("v1"), "hello")).await;
    let id = only_conversation(&t).await.conversation.id;
    let reply = t.enqueue_outbound(reply_to(id, "hi!")).await.unwrap();
    let job = t
        .claim_outbox(t.clock.now(), Duration::from_secs(30), 1, &[])
        .await
        .unwrap()
        .remove(0);
    let sent = SendOutcome::Sent {
        external_id: "x-1".into(),
        status: MessageStatus::Sent,
    };
    t.finish_outbox(&job, sent, KvChanges::default()).await.unwrap();
    let read = DeliveryUpdate {
        external_id: "x-1".into(),
        status: MessageStatus::Read,
        error: None,
        at: None,
    };
    let csat = CsatEvent {
        external_id: "s1".into(),
        subject: visitor("v1"),
        score: 5,
        scale: 5,
        comment: None,
        at: None,
    };
    t.ingest(batch(vec![InboundEvent::Delivery(read), InboundEvent::Csat(csat)]))
        .await
        .unwrap();

    let person = reply.person_id;
    let mut kinds = Vec::new();
    let mut cursor = None;
    loop {
        let page = t.timeline(person, cursor, 3).await.unwrap();
        assert!(page.items.len() <= 3);
        kinds.extend(page.items.iter().map(|e| e.kind.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(
        kinds,
        [
            "person.created",
            "identity.added",
            "conversation.opened",
            "message.received",
            "message.queued",
            "message.status",
            "message.status",
            "csat.received",
        ]
    );
}
