//! The identity graph: trusted links merge, untrusted ones suggest, guards
//! refuse, operators merge and split, everything is audited.

use super::*;
use crate::{IdentityGuards, IdentityKind, InboundEvent, SourceKind, SuggestionReason};

on_both_backends!(
    a_verified_claim_finds_the_existing_person,
    a_claim_stated_twice_counts_as_proven_if_either_is,
    an_unverified_claim_suggests_but_never_links,
    a_verified_identifier_shared_by_two_persons_merges_them,
    different_unique_ids_refuse_the_merge_and_suggest_it,
    a_merge_over_the_cap_is_refused,
    blocklisted_values_never_link_or_suggest,
    an_operator_merge_and_its_split_restore_both_persons,
    a_split_moves_messages_and_splits_a_shared_conversation,
    persons_in_other_workspaces_never_merge,
    suggestions_are_accepted_or_dismissed,
);

// Found by the property test: an unproven repeat of a claim hid its proof,
// so the new device joined the person without a trusted link.
async fn a_claim_stated_twice_counts_as_proven_if_either_is(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut first = message("v1/m1", visitor("v1"), "from my laptop");
    first.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
    ingest(&t, first).await;
    let mut second = message("v2/m1", visitor("v2"), "from my phone");
    second.claims = vec![
        claim(IdentityKind::Email, "ann@example.com", false),
        claim(IdentityKind::Email, "ann@example.com", true),
    ];
    ingest(&t, second).await;

    let detail = only_conversation(&t).await;
    let person = t.person(detail.conversation.person_id).await.unwrap().unwrap();
    assert_eq!(person.identities.len(), 3);
    let trusted: Vec<_> = person.links.iter().filter(|l| l.trusted).collect();
    assert_eq!(trusted.len(), 2, "{:#?}", person.links);
}

async fn a_verified_claim_finds_the_existing_person(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut first = message("v1/m1", visitor("v1"), "from my laptop");
    first.claims = vec![claim(IdentityKind::ExternalId, "user-42", true)];
    ingest(&t, first).await;
    let mut second = message("v2/m1", visitor("v2"), "from my phone");
    second.claims = vec![claim(IdentityKind::ExternalId, "user-42", true)];
    ingest(&t, second).await;

    let detail = only_conversation(&t).await;
    assert_eq!(detail.messages.len(), 2);
    let person = t.person(detail.conversation.person_id).await.unwrap().unwrap();
    let values: Vec<_> = person
        .identities
        .iter()
        .map(|i| (i.value.as_str(), i.verified))
        .collect();
    assert_eq!(
        values,
        [("webchat:v1", false), ("user-42", true), ("webchat:v2", false)]
    );
    assert_eq!(person.identities[1].verified_by.as_deref(), Some("webchat"));
    assert_eq!(person.links.len(), 2);
    assert!(
        person
            .links
            .iter()
            .all(|l| l.trusted && l.source_kind == SourceKind::Connector && l.source == "webchat")
    );
}

async fn an_unverified_claim_suggests_but_never_links(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut ann = message("v1/m1", visitor("v1"), "hi");
    ann.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
    let ann_msg = ingest(&t, ann).await.messages[0];
    // Someone types Ann's address into a chat form: no proof.
    let mut other = message("v2/m1", visitor("v2"), "I am Ann, honest");
    other.claims = vec![claim(IdentityKind::Email, "ann@EXAMPLE.com", false)];
    let other_msg = ingest(&t, other).await.messages[0];

    let (ann, other) = (person_of(&t, ann_msg).await, person_of(&t, other_msg).await);
    assert_ne!(ann, other);
    let impostor = t.person(other).await.unwrap().unwrap();
    assert_eq!(impostor.identities.len(), 1, "the claim is not the person's identity");
    let claim_link = impostor
        .links
        .iter()
        .find(|l| !l.trusted)
        .expect("the claim is recorded");
    assert_eq!(claim_link.to.value, "ann@example.com");

    let suggestions = t.suggestions(other).await.unwrap();
    assert_eq!(suggestions.len(), 1);
    assert_eq!(suggestions[0].reason, SuggestionReason::UnverifiedMatch);
    assert_eq!(suggestions[0].other_person_id, ann);
    assert_eq!(t.suggestions(ann).await.unwrap().len(), 1, "both persons see it");
    // An unproven claim of an unknown value makes no person.
    let mut third = message("v3/m1", visitor("v3"), "hello");
    third.claims = vec![claim(IdentityKind::Email, "nobody@example.com", false)];
    ingest(&t, third).await;
    assert_eq!(all_conversations(&t).await.len(), 3);
}

async fn a_verified_identifier_shared_by_two_persons_merges_them(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let a = ingest(&t, message("v1/m1", visitor("v1"), "chat as a guest"))
        .await
        .messages[0];
    t.clock.advance(std::time::Duration::from_secs(1));
    let mut signed_in = message("v2/m1", visitor("v2"), "signed in now");
    signed_in.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
    let b = ingest(&t, signed_in).await.messages[0];
    assert_ne!(person_of(&t, a).await, person_of(&t, b).await);

    // The guest later proves the same address: the two persons are one.
    let mut proof = message("v1/m2", visitor("v1"), "here is my login");
    proof.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
    ingest(&t, proof).await;
    let survivor = person_of(&t, a).await;
    assert_eq!(person_of(&t, b).await, survivor);
    let person = t.person(survivor).await.unwrap().unwrap();
    assert_eq!(person.identities.len(), 3);
    assert_eq!(person.merged_from.len(), 1);
    let audit = t.audit_log(survivor).await.unwrap();
    assert_eq!(audit[0].action, "merge");
    assert_eq!(audit[0].actor, "connector:webchat");
    // The merged-away id still answers, with the survivor.
    assert_eq!(t.person(person.merged_from[0]).await.unwrap().unwrap().id, survivor);
    let timeline = t.timeline(survivor, None, 200).await.unwrap();
    assert!(
        timeline.items.iter().any(|e| e.kind == "person.merged"),
        "{timeline:#?}"
    );
}

async fn different_unique_ids_refuse_the_merge_and_suggest_it(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut a = message("v1/m1", visitor("v1"), "customer 1");
    a.claims = vec![claim(IdentityKind::ExternalId, "cust-1", true)];
    let a = ingest(&t, a).await.messages[0];
    let mut b = message("v2/m1", visitor("v2"), "customer 2");
    b.claims = vec![
        claim(IdentityKind::ExternalId, "cust-2", true),
        claim(IdentityKind::Email, "shared@example.com", true),
    ];
    let b = ingest(&t, b).await.messages[0];
    // Customer 1 proves the same email: two customer ids, so no automatic merge.
    let mut c = message("v1/m2", visitor("v1"), "my email");
    c.claims = vec![claim(IdentityKind::Email, "shared@example.com", true)];
    ingest(&t, c).await;
    let (pa, pb) = (person_of(&t, a).await, person_of(&t, b).await);
    assert_ne!(pa, pb);
    let suggestions = t.suggestions(pa).await.unwrap();
    assert_eq!(suggestions.len(), 1, "{suggestions:#?}");
    assert_eq!(suggestions[0].reason, SuggestionReason::UniqueConflict);
    assert!(suggestions[0].detail.contains("cust-1") && suggestions[0].detail.contains("cust-2"));
    assert_eq!(t.audit_log(pa).await.unwrap()[0].action, "merge_refused");
    // An operator cannot force it either.
    let refused = t.merge_persons(pa, pb, decision("looks the same")).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::MergeRefused(ref why) if why.contains("external_id")),
        "{refused}"
    );
}

async fn a_merge_over_the_cap_is_refused(kind: Kind) {
    let mut options = options();
    let mut guards = IdentityGuards::default();
    guards.set_max(IdentityKind::ChannelUser, 2);
    options.guards = guards;
    let Some(t) = open_with(kind, options).await else {
        return;
    };
    let mut ids = Vec::new();
    for v in ["v1", "v2", "v3"] {
        ids.push(ingest(&t, message(&format!("{v}/m"), visitor(v), "hi")).await.messages[0]);
    }
    let (p1, p2, p3) = (
        person_of(&t, ids[0]).await,
        person_of(&t, ids[1]).await,
        person_of(&t, ids[2]).await,
    );
    let merged = t.merge_persons(p1, p2, decision("same browser family")).await.unwrap();
    let refused = t
        .merge_persons(merged.id, p3, decision("and this one"))
        .await
        .unwrap_err();
    match refused {
        StoreError::MergeRefused(why) => assert!(why.contains("3 channel_user identities; the limit is 2"), "{why}"),
        other => panic!("{other}"),
    }
}

async fn blocklisted_values_never_link_or_suggest(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut a = message("v1/m1", visitor("v1"), "hi");
    a.claims = vec![claim(IdentityKind::Email, "test@test.com", true)];
    let a = ingest(&t, a).await.messages[0];
    let mut b = message("v2/m1", visitor("v2"), "hi");
    b.claims = vec![
        claim(IdentityKind::Email, "test@test.com", true),
        claim(IdentityKind::ExternalId, "undefined", true),
        claim(IdentityKind::Email, "noreply@shop.example", false),
    ];
    let b = ingest(&t, b).await.messages[0];
    let (pa, pb) = (person_of(&t, a).await, person_of(&t, b).await);
    assert_ne!(pa, pb);
    assert!(t.suggestions(pa).await.unwrap().is_empty());
    assert_eq!(t.person(pb).await.unwrap().unwrap().identities.len(), 1);
}

async fn an_operator_merge_and_its_split_restore_both_persons(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let a = ingest(&t, message("v1/m1", visitor("v1"), "chat one")).await.messages[0];
    t.clock.advance(std::time::Duration::from_secs(1));
    let b = ingest(&t, message("v2/m1", visitor("v2"), "chat two")).await.messages[0];
    let (pa, pb) = (person_of(&t, a).await, person_of(&t, b).await);

    let merged = t
        .merge_persons(pb, pa, decision("same customer, confirmed by phone"))
        .await
        .unwrap();
    assert_eq!(merged.id, pa, "the older person survives");
    assert_eq!(
        all_conversations(&t).await.iter().filter(|c| c.person_id == pa).count(),
        2
    );
    let operator_link = merged
        .links
        .iter()
        .find(|l| l.source_kind == SourceKind::Operator)
        .unwrap();
    assert_eq!(operator_link.source, "operator:test");

    let persons = t
        .remove_link(operator_link.id, decision("it was a mistake"))
        .await
        .unwrap();
    assert_eq!(persons.len(), 2);
    assert_eq!(persons[0], pa);
    let restored = person_of(&t, b).await;
    assert_ne!(restored, pa);
    assert_eq!(person_of(&t, a).await, pa);
    let conversations = all_conversations(&t).await;
    assert!(conversations.iter().any(|c| c.person_id == restored));
    let audit = t.audit_log(pa).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["split", "merge"]);
    assert_eq!(audit[0].reason, "it was a mistake");
    let timeline = t.timeline(restored, None, 200).await.unwrap();
    assert!(timeline.items.iter().any(|e| e.kind == "person.split"));
    assert!(
        timeline.items.iter().any(|e| e.kind == "message.received"),
        "the message's event followed it"
    );
}

async fn a_split_moves_messages_and_splits_a_shared_conversation(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut chat = message("v1/m1", visitor("v1"), "my email is proven");
    chat.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
    let chat = ingest(&t, chat).await.messages[0];
    t.clock.advance(std::time::Duration::from_secs(60));
    let email = message(
        "<e1@mail>",
        claim(IdentityKind::Email, "ann@example.com", true),
        "continuing by email",
    );
    let email = ingest_on(&t, "email", "email", email).await.messages[0];
    let detail = only_conversation(&t).await;
    assert_eq!(detail.messages.len(), 2, "one conversation across channels");
    let person = t.person(detail.conversation.person_id).await.unwrap().unwrap();
    let link = person.links.iter().find(|l| l.trusted).unwrap();

    let persons = t.remove_link(link.id, decision("shared family inbox")).await.unwrap();
    assert_eq!(persons.len(), 2);
    let (pc, pe) = (person_of(&t, chat).await, person_of(&t, email).await);
    assert_ne!(pc, pe);
    let conversations = all_conversations(&t).await;
    assert_eq!(conversations.len(), 2, "the shared conversation split in two");
    let email_conversation = conversations.iter().find(|c| c.person_id == pe).unwrap();
    assert_eq!(email_conversation.channel, "email");
    let detail = t.conversation(email_conversation.id).await.unwrap().unwrap();
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(detail.messages[0].id, email);
}

async fn persons_in_other_workspaces_never_merge(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut a = batch(vec![InboundEvent::Message(message("v1/m1", visitor("v1"), "brand a"))]);
    a.workspace = "brand-a".into();
    let a = t.ingest(a).await.unwrap().messages[0];
    let mut b = batch(vec![InboundEvent::Message({
        let mut m = message("v1/m2", visitor("v1"), "brand b, same visitor id");
        m.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
        m
    })]);
    b.workspace = "brand-b".into();
    let b = t.ingest(b).await.unwrap().messages[0];
    let (pa, pb) = (person_of(&t, a).await, person_of(&t, b).await);
    assert_ne!(pa, pb, "the same visitor id in two workspaces is two persons");
    let refused = t.merge_persons(pa, pb, decision("try")).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::MergeRefused(ref why) if why.contains("workspaces")),
        "{refused}"
    );
}

async fn suggestions_are_accepted_or_dismissed(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let mut a = message("v1/m1", visitor("v1"), "hi");
    a.claims = vec![claim(IdentityKind::Email, "ann@example.com", true)];
    let a = ingest(&t, a).await.messages[0];
    let mut b = message("v2/m1", visitor("v2"), "hi");
    b.claims = vec![claim(IdentityKind::Email, "ann@example.com", false)];
    let b = ingest(&t, b).await.messages[0];
    let mut c = message("v3/m1", visitor("v3"), "hi");
    c.claims = vec![claim(IdentityKind::Email, "ann@example.com", false)];
    let c = ingest(&t, c).await.messages[0];
    let pb = person_of(&t, b).await;
    let pc = person_of(&t, c).await;

    let suggestion = t.suggestions(pb).await.unwrap().remove(0);
    let accepted = t
        .decide_suggestion(suggestion.id, true, decision("she confirmed"))
        .await
        .unwrap();
    assert_eq!(accepted.status, "accepted");
    assert_eq!(person_of(&t, b).await, person_of(&t, a).await);

    let other = t.suggestions(pc).await.unwrap().remove(0);
    let dismissed = t.decide_suggestion(other.id, false, decision("not her")).await.unwrap();
    assert_eq!(dismissed.status, "dismissed");
    assert_ne!(person_of(&t, c).await, person_of(&t, a).await);
    assert!(t.suggestions(pc).await.unwrap().is_empty());
    let again = t
        .decide_suggestion(other.id, true, decision("changed my mind"))
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Invalid(_)));
}
