//! Property: after any sequence of messages (with proven and unproven
//! claims), link removals and operator merges, persons are exactly the
//! connected components of trusted links, computed from scratch.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use sqlx::Row;

use super::*;
use crate::identity::graph::components;
use crate::{IdentityKind, InboundEvent};

#[derive(Debug, Clone)]
enum Op {
    Message { visitor: u8, claims: Vec<(u8, bool)> },
    RemoveLink { pick: usize },
    Merge { a: usize, b: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, prop::collection::vec((0u8..4, any::<bool>()), 0..3))
            .prop_map(|(visitor, claims)| Op::Message { visitor, claims }),
        2 => any::<usize>().prop_map(|pick| Op::RemoveLink { pick }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Merge { a, b }),
    ]
}

async fn apply(t: &TestStore, ops: &[Op]) {
    for (n, op) in ops.iter().enumerate() {
        match op {
            Op::Message { visitor: v, claims } => {
                let mut m = message(&format!("m{n}"), visitor(&format!("v{v}")), "hi");
                m.claims = claims
                    .iter()
                    .map(|(e, verified)| claim(IdentityKind::Email, &format!("e{e}@example.com"), *verified))
                    .collect();
                t.ingest(batch(vec![InboundEvent::Message(m)])).await.unwrap();
            }
            Op::RemoveLink { pick } => {
                let links: Vec<i64> = sqlx::query_scalar("SELECT id FROM links WHERE removed_at IS NULL ORDER BY id")
                    .fetch_all(&t.reader)
                    .await
                    .unwrap();
                if !links.is_empty() {
                    t.remove_link(links[pick % links.len()], decision("property test"))
                        .await
                        .unwrap();
                }
            }
            Op::Merge { a, b } => {
                let persons: Vec<String> =
                    sqlx::query_scalar("SELECT id FROM persons WHERE merged_into IS NULL ORDER BY id")
                        .fetch_all(&t.reader)
                        .await
                        .unwrap();
                if persons.len() >= 2 {
                    let (a, b) = (&persons[a % persons.len()], &persons[b % persons.len()]);
                    if a != b {
                        // The guards may refuse; the invariant must hold either way.
                        let _ = t
                            .merge_persons(a.parse().unwrap(), b.parse().unwrap(), decision("property"))
                            .await;
                    }
                }
            }
        }
    }
}

async fn check_invariant(t: &TestStore) -> Result<(), String> {
    let rows = sqlx::query("SELECT id, person_id, is_address FROM identities ORDER BY id")
        .fetch_all(&t.reader)
        .await
        .unwrap();
    let mut nodes = Vec::new();
    let mut person_of = BTreeMap::new();
    let mut addresses = BTreeSet::new();
    for row in &rows {
        let id: i64 = row.get("id");
        nodes.push(id);
        person_of.insert(id, row.get::<Option<String>, _>("person_id"));
        if row.get::<i64, _>("is_address") != 0 {
            addresses.insert(id);
        }
    }
    let edges: Vec<(i64, i64)> =
        sqlx::query("SELECT from_identity, to_identity FROM links WHERE trusted = 1 AND removed_at IS NULL")
            .fetch_all(&t.reader)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("from_identity"), r.get("to_identity")))
            .collect();
    let mut seen_persons = BTreeSet::new();
    for component in components(&nodes, &edges) {
        let anchored = component.len() > 1 || addresses.contains(&component[0]);
        let persons: BTreeSet<_> = component.iter().map(|n| person_of[n].clone()).collect();
        if persons.len() != 1 {
            return Err(format!("component {component:?} spans persons {persons:?}"));
        }
        let person = persons.into_iter().next().unwrap();
        match (anchored, person) {
            (true, Some(p)) => {
                if !seen_persons.insert(p.clone()) {
                    return Err(format!("person {p} holds two components"));
                }
            }
            (false, None) => {}
            (anchored, person) => {
                return Err(format!(
                    "component {component:?} anchored={anchored} has person {person:?}"
                ));
            }
        }
    }
    // Messages and conversations follow their identities.
    let stray: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages m JOIN identities i ON i.id = m.identity_id
         LEFT JOIN conversations c ON c.id = m.conversation_id
         WHERE m.person_id <> i.person_id OR c.person_id <> m.person_id",
    )
    .fetch_one(&t.reader)
    .await
    .unwrap();
    if stray != 0 {
        return Err(format!("{stray} messages do not follow their identity"));
    }
    let live: BTreeSet<String> = sqlx::query_scalar("SELECT id FROM persons WHERE merged_into IS NULL")
        .fetch_all(&t.reader)
        .await
        .unwrap()
        .into_iter()
        .collect();
    if !seen_persons.is_subset(&live) {
        return Err(format!(
            "identities point at merged-away persons: {:?}",
            seen_persons.difference(&live)
        ));
    }
    Ok(())
}

fn run(kind: Kind, cases: u32) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec(op(), 1..24))| {
        let outcome = runtime.block_on(async {
            let Some(t) = open(kind).await else { return Ok(()) };
            apply(&t, &ops).await;
            check_invariant(&t).await
        });
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    });
}

#[test]
fn persons_are_the_components_of_trusted_links_on_sqlite() {
    run(Kind::Sqlite, 64);
}

#[test]
fn persons_are_the_components_of_trusted_links_on_postgres() {
    run(Kind::Postgres, 24);
}

/// Many writers at once: messages with proven and unproven claims over a
/// small set of visitors and emails (so merges race each other), operator
/// merges and link removals; the invariant must hold at the end.
async fn concurrent_writers_keep_the_invariant(kind: Kind) {
    let Some(t) = open(kind).await else { return };
    let store = std::sync::Arc::new(t.store.clone());
    let mut tasks = Vec::new();
    for worker in 0..12u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // A small deterministic generator per worker.
            let mut seed = worker.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move |n: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % n
            };
            for i in 0..15 {
                let mut m = message(&format!("w{worker}-{i}"), visitor(&format!("v{}", next(8))), "hi");
                m.claims = (0..next(3))
                    .map(|_| claim(IdentityKind::Email, &format!("e{}@example.com", next(5)), next(2) == 0))
                    .collect();
                store.ingest(batch(vec![InboundEvent::Message(m)])).await.unwrap();
                if next(6) == 0 {
                    let persons: Vec<String> =
                        sqlx::query_scalar("SELECT id FROM persons WHERE merged_into IS NULL ORDER BY id")
                            .fetch_all(&store.reader)
                            .await
                            .unwrap();
                    if persons.len() >= 2 {
                        let a = persons[next(persons.len() as u64) as usize].parse().unwrap();
                        let b = persons[next(persons.len() as u64) as usize].parse().unwrap();
                        match store.merge_persons(a, b, decision("stress")).await {
                            Ok(_)
                            | Err(StoreError::MergeRefused(_) | StoreError::Invalid(_) | StoreError::NotFound(_)) => {}
                            Err(e) => panic!("merge failed: {e}"),
                        }
                    }
                }
                if next(8) == 0 {
                    let links: Vec<i64> =
                        sqlx::query_scalar("SELECT id FROM links WHERE removed_at IS NULL ORDER BY id")
                            .fetch_all(&store.reader)
                            .await
                            .unwrap();
                    if !links.is_empty() {
                        match store
                            .remove_link(links[next(links.len() as u64) as usize], decision("stress"))
                            .await
                        {
                            Ok(_) | Err(StoreError::NotFound(_)) => {}
                            Err(e) => panic!("split failed: {e}"),
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    check_invariant(&t).await.unwrap();
}

on_both_backends!(concurrent_writers_keep_the_invariant);
