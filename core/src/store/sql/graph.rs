//! The identity graph in SQL: resolving a sender to a person on every event,
//! merges (automatic on trusted links, guarded; or an operator's decision),
//! splits by removing a link, and merge suggestions.
//!
//! Invariant: a person is a connected component of trusted links, where
//! every identity that has messages (an address) or a trusted link belongs
//! to exactly one person, and an identity known only from unproven claims
//! belongs to none. The property tests check this after random operations.

use sqlx::AnyConnection;

use super::events::{self, NewEvent, kind};
use super::{locks, read, rows};
use crate::identity::IdentityGuards;
use crate::identity::graph::components;
use crate::store::{Decision, StoreError};
use crate::{
    ConversationId, IdentityClaim, IdentityKey, PersonId, SourceKind, Suggestion, SuggestionReason, Timestamp,
};

/// Who is resolving, in which workspace.
pub struct Resolver<'a> {
    /// Workspace of the connector instance.
    pub workspace: &'a str,
    /// The connector instance.
    pub source: &'a str,
    /// The guards.
    pub guards: &'a IdentityGuards,
    /// Now.
    pub now: Timestamp,
}

/// The person behind a sender, and the sender's identity row.
pub struct Resolved {
    /// The person (after any merge this resolution caused).
    pub person: PersonId,
    /// The sender's identity.
    pub identity: i64,
}

struct Node {
    id: i64,
    person: Option<PersonId>,
    verified: bool,
    is_address: bool,
}

async fn find_node(tx: &mut AnyConnection, workspace: &str, key: &IdentityKey) -> Result<Option<Node>, StoreError> {
    let row = sqlx::query(
        "SELECT id, person_id, verified, is_address FROM identities WHERE workspace = $1 AND kind = $2 AND value = $3",
    )
    .bind(workspace)
    .bind(key.kind.as_str())
    .bind(&key.value)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|row| {
        Ok(Node {
            id: rows::get(&row, "id")?,
            person: rows::opt_id_col(&row, "person_id")?,
            verified: rows::flag(&row, "verified")?,
            is_address: rows::flag(&row, "is_address")?,
        })
    })
    .transpose()
}

struct NewNode<'a> {
    key: &'a IdentityKey,
    person: Option<PersonId>,
    verified_by: Option<&'a str>,
    is_address: bool,
}

async fn insert_node(tx: &mut AnyConnection, r: &Resolver<'_>, node: NewNode<'_>) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO identities (workspace, kind, value, person_id, verified, verified_by, is_address, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(r.workspace)
    .bind(node.key.kind.as_str())
    .bind(&node.key.value)
    .bind(node.person.map(|p| p.to_string()))
    .bind(i64::from(node.verified_by.is_some()))
    .bind(node.verified_by)
    .bind(i64::from(node.is_address))
    .bind(r.now.as_millis())
    .fetch_one(&mut *tx)
    .await?;
    if let Some(person) = node.person {
        identity_added(tx, r, person, node.key).await?;
    }
    Ok(id)
}

async fn identity_added(
    tx: &mut AnyConnection,
    r: &Resolver<'_>,
    person: PersonId,
    key: &IdentityKey,
) -> Result<(), StoreError> {
    events::append(
        tx,
        NewEvent {
            workspace: r.workspace,
            kind: kind::IDENTITY_ADDED,
            person: Some(person),
            conversation: None,
            message: None,
            data: serde_json::json!({ "kind": key.kind, "value": key.value, "source": r.source }),
            at: r.now,
        },
    )
    .await
}

async fn adopt_node(
    tx: &mut AnyConnection,
    r: &Resolver<'_>,
    node: &Node,
    key: &IdentityKey,
    person: PersonId,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE identities SET person_id = $1 WHERE id = $2")
        .bind(person.to_string())
        .bind(node.id)
        .execute(&mut *tx)
        .await?;
    identity_added(tx, r, person, key).await
}

async fn mark_verified(tx: &mut AnyConnection, node: i64, by: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE identities SET verified = 1, verified_by = $1 WHERE id = $2 AND verified = 0")
        .bind(by)
        .bind(node)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Creates a person and logs it.
pub async fn create_person(tx: &mut AnyConnection, workspace: &str, now: Timestamp) -> Result<PersonId, StoreError> {
    let id = PersonId::new();
    sqlx::query("INSERT INTO persons (id, workspace, created_at, updated_at) VALUES ($1, $2, $3, $4)")
        .bind(id.to_string())
        .bind(workspace)
        .bind(now.as_millis())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
    events::append(
        tx,
        NewEvent {
            workspace,
            kind: kind::PERSON_CREATED,
            person: Some(id),
            conversation: None,
            message: None,
            data: serde_json::json!({}),
            at: now,
        },
    )
    .await?;
    Ok(id)
}

async fn has_active_link(tx: &mut AnyConnection, a: i64, b: i64, trusted_only: bool) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM links WHERE removed_at IS NULL AND ($3 = 0 OR trusted = 1)
           AND ((from_identity = $1 AND to_identity = $2) OR (from_identity = $2 AND to_identity = $1))
         LIMIT 1",
    )
    .bind(a)
    .bind(b)
    .bind(i64::from(trusted_only))
    .fetch_optional(&mut *tx)
    .await?;
    Ok(found.is_some())
}

struct NewLink<'a> {
    workspace: &'a str,
    from: i64,
    to: i64,
    trusted: bool,
    source_kind: SourceKind,
    source: &'a str,
    reason: &'a str,
    now: Timestamp,
}

async fn insert_link(tx: &mut AnyConnection, link: NewLink<'_>) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO links (workspace, from_identity, to_identity, trusted, source_kind, source, reason, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(link.workspace)
    .bind(link.from)
    .bind(link.to)
    .bind(i64::from(link.trusted))
    .bind(link.source_kind.as_str())
    .bind(link.source)
    .bind(link.reason)
    .bind(link.now.as_millis())
    .fetch_one(&mut *tx)
    .await?)
}

/// The identities of a person, as keys.
async fn person_keys(tx: &mut AnyConnection, person: PersonId) -> Result<Vec<IdentityKey>, StoreError> {
    let rows = sqlx::query("SELECT kind, value FROM identities WHERE person_id = $1")
        .bind(person.to_string())
        .fetch_all(&mut *tx)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(IdentityKey::from_normalized(
                rows::kind(&rows::get::<String>(row, "kind")?)?,
                rows::get::<String>(row, "value")?,
            ))
        })
        .collect()
}

/// Why the guards refuse merging two persons, if they do.
async fn merge_refusal(
    tx: &mut AnyConnection,
    guards: &IdentityGuards,
    a: PersonId,
    b: PersonId,
) -> Result<Option<(SuggestionReason, String)>, StoreError> {
    let (ka, kb) = (person_keys(tx, a).await?, person_keys(tx, b).await?);
    if let Some(why) = guards.unique_conflict(&ka, &kb) {
        return Ok(Some((SuggestionReason::UniqueConflict, why)));
    }
    if let Some(why) = guards.over_cap(&ka, &kb) {
        return Ok(Some((SuggestionReason::OverCap, why)));
    }
    Ok(None)
}

struct NewSuggestion<'a> {
    workspace: &'a str,
    person: PersonId,
    other: PersonId,
    identity: Option<i64>,
    reason: SuggestionReason,
    detail: &'a str,
    source: &'a str,
    now: Timestamp,
}

/// Records a suggestion unless the same one is already open.
async fn suggest(tx: &mut AnyConnection, s: NewSuggestion<'_>) -> Result<(), StoreError> {
    let open: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM suggestions WHERE status = 'open' AND reason = $3
           AND ((person_id = $1 AND other_person_id = $2) OR (person_id = $2 AND other_person_id = $1)) LIMIT 1",
    )
    .bind(s.person.to_string())
    .bind(s.other.to_string())
    .bind(s.reason.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if open.is_some() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO suggestions (workspace, person_id, other_person_id, identity_id, reason, detail, source, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
    )
    .bind(s.workspace)
    .bind(s.person.to_string())
    .bind(s.other.to_string())
    .bind(s.identity)
    .bind(s.reason.as_str())
    .bind(s.detail)
    .bind(s.source)
    .bind(s.now.as_millis())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

struct NewAudit<'a> {
    workspace: &'a str,
    action: &'a str,
    actor: &'a str,
    reason: &'a str,
    person: Option<PersonId>,
    other: Option<PersonId>,
    detail: serde_json::Value,
    now: Timestamp,
}

async fn audit(tx: &mut AnyConnection, a: NewAudit<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (workspace, action, actor, reason, person_id, other_person_id, detail, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.workspace)
    .bind(a.action)
    .bind(a.actor)
    .bind(a.reason)
    .bind(a.person.map(|p| p.to_string()))
    .bind(a.other.map(|p| p.to_string()))
    .bind(a.detail.to_string())
    .bind(a.now.as_millis())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Resolves a sender and the identifiers they state to a person, in the
/// event's transaction: the sender's address always has a person; a
/// verified claim joins or merges persons unless a guard refuses (then a
/// suggestion is raised); an unverified claim is recorded as an untrusted
/// link and, if it matches another person, raises a suggestion.
pub async fn resolve(
    tx: &mut AnyConnection,
    r: &Resolver<'_>,
    sender: &IdentityClaim,
    claims: &[IdentityClaim],
) -> Result<Resolved, StoreError> {
    let claims = &merge_repeated(claims);
    // Find-or-create of each identifier must not race another writer.
    let mut keys: Vec<String> = std::iter::once(sender)
        .chain(claims)
        .map(|c| format!("identity|{}|{}|{}", r.workspace, c.key.kind, c.key.value))
        .collect();
    locks::keys(tx, &mut keys).await?;
    let sender_id = match find_node(tx, r.workspace, &sender.key).await? {
        Some(node) => {
            if node.person.is_none() {
                // Known so far only from someone's claim: now it is an address.
                let person = create_person(tx, r.workspace, r.now).await?;
                adopt_node(tx, r, &node, &sender.key, person).await?;
            }
            if !node.is_address {
                sqlx::query("UPDATE identities SET is_address = 1 WHERE id = $1")
                    .bind(node.id)
                    .execute(&mut *tx)
                    .await?;
            }
            if sender.verified && !node.verified {
                mark_verified(tx, node.id, r.source).await?;
            }
            node.id
        }
        None => {
            let person = match joinable_person(tx, r, sender, claims).await? {
                Some(person) => person,
                None => create_person(tx, r.workspace, r.now).await?,
            };
            let node = NewNode {
                key: &sender.key,
                person: Some(person),
                verified_by: sender.verified.then_some(r.source),
                is_address: true,
            };
            insert_node(tx, r, node).await?
        }
    };

    // Hold the sender's person for the rest of the transaction, so no
    // concurrent merge or split moves it under us.
    let mut person = locks::person_of_identity(tx, sender_id).await?;
    // A shared or placeholder sender address must not link anyone to anyone.
    let sender_blocked = r.guards.is_blocked(&sender.key);
    let mut seen = vec![&sender.key];
    for claim in claims {
        if seen.contains(&&claim.key) || r.guards.is_blocked(&claim.key) {
            continue;
        }
        seen.push(&claim.key);
        let node = find_node(tx, r.workspace, &claim.key).await?;
        if claim.verified && !sender_blocked {
            person = link_verified(tx, r, sender_id, person, &claim.key, node).await?;
        } else {
            link_unverified(tx, r, sender_id, person, &claim.key, node, !sender_blocked).await?;
        }
    }
    // Hold the person's row for the rest of the transaction (continuity),
    // and take the person the sender belongs to now, after any merge.
    let person = locks::person_of_identity(tx, sender_id).await?;
    Ok(Resolved {
        person,
        identity: sender_id,
    })
}

/// One claim per identifier: stated twice, it is proven if either statement
/// is, so an unproven repeat cannot shadow the proof.
fn merge_repeated(claims: &[IdentityClaim]) -> Vec<IdentityClaim> {
    let mut unique: Vec<IdentityClaim> = Vec::with_capacity(claims.len());
    for claim in claims {
        match unique.iter_mut().find(|c| c.key == claim.key) {
            Some(seen) => seen.verified |= claim.verified,
            None => unique.push(claim.clone()),
        }
    }
    unique
}

/// The existing person a brand-new sender address joins directly, because
/// it proves one of that person's identifiers (a signed-in user on a new
/// device), when the guards allow; saves creating a person only to merge it.
async fn joinable_person(
    tx: &mut AnyConnection,
    r: &Resolver<'_>,
    sender: &IdentityClaim,
    claims: &[IdentityClaim],
) -> Result<Option<PersonId>, StoreError> {
    if r.guards.is_blocked(&sender.key) {
        return Ok(None);
    }
    for claim in claims.iter().filter(|c| c.verified && !r.guards.is_blocked(&c.key)) {
        let Some(person) = find_node(tx, r.workspace, &claim.key).await?.and_then(|n| n.person) else {
            continue;
        };
        let person = locks::live_person(tx, person).await?;
        let keys = person_keys(tx, person).await?;
        if r.guards.over_cap(&keys, std::slice::from_ref(&sender.key)).is_none() {
            return Ok(Some(person));
        }
    }
    Ok(None)
}

/// A verified claim: the identifier belongs to the sender's person.
async fn link_verified(
    tx: &mut AnyConnection,
    r: &Resolver<'_>,
    sender: i64,
    person: PersonId,
    key: &IdentityKey,
    node: Option<Node>,
) -> Result<PersonId, StoreError> {
    let trusted = |to: i64, reason: &'static str| NewLink {
        workspace: r.workspace,
        from: sender,
        to,
        trusted: true,
        source_kind: SourceKind::Connector,
        source: r.source,
        reason,
        now: r.now,
    };
    let node = match node {
        None => {
            let new = NewNode {
                key,
                person: Some(person),
                verified_by: Some(r.source),
                is_address: false,
            };
            let id = insert_node(tx, r, new).await?;
            insert_link(tx, trusted(id, "verified identifier stated by the sender")).await?;
            return Ok(person);
        }
        Some(node) => node,
    };
    if !node.verified {
        mark_verified(tx, node.id, r.source).await?;
    }
    match node.person {
        Some(owner) if owner == person => {
            if !has_active_link(tx, sender, node.id, true).await? {
                insert_link(tx, trusted(node.id, "verified identifier stated by the sender")).await?;
            }
            Ok(person)
        }
        None => {
            adopt_node(tx, r, &node, key, person).await?;
            insert_link(tx, trusted(node.id, "verified identifier stated by the sender")).await?;
            Ok(person)
        }
        Some(owner) => {
            // Lock both, then look again: either may have been merged meanwhile.
            locks::persons(tx, &[person, owner]).await?;
            let person = locks::live_person(tx, person).await?;
            let owner = locks::live_person(tx, owner).await?;
            if person == owner {
                if !has_active_link(tx, sender, node.id, true).await? {
                    insert_link(tx, trusted(node.id, "verified identifier stated by the sender")).await?;
                }
                return Ok(person);
            }
            merge_verified(tx, r, sender, person, owner, key, &node).await
        }
    }
}

/// A verified identifier of the sender's person belongs to another person:
/// merge them, unless a guard refuses (then record and suggest).
async fn merge_verified(
    tx: &mut AnyConnection,
    r: &Resolver<'_>,
    sender: i64,
    person: PersonId,
    owner: PersonId,
    key: &IdentityKey,
    node: &Node,
) -> Result<PersonId, StoreError> {
    let link = |trusted: bool, reason: &'static str| NewLink {
        workspace: r.workspace,
        from: sender,
        to: node.id,
        trusted,
        source_kind: SourceKind::Connector,
        source: r.source,
        reason,
        now: r.now,
    };
    let Some((reason, why)) = merge_refusal(tx, r.guards, person, owner).await? else {
        insert_link(tx, link(true, "verified identifier shared with another person")).await?;
        let actor = format!("connector:{}", r.source);
        let reason = format!("verified {} {} reached both persons", key.kind, key.value);
        return merge(tx, r.workspace, person, owner, &actor, &reason, r.now).await;
    };
    insert_link(
        tx,
        link(false, "verified identifier of another person; merge refused by a guard"),
    )
    .await?;
    let detail = format!("{} {} is verified on both persons, but {why}", key.kind, key.value);
    suggest(
        tx,
        NewSuggestion {
            workspace: r.workspace,
            person,
            other: owner,
            identity: Some(node.id),
            reason,
            detail: &detail,
            source: r.source,
            now: r.now,
        },
    )
    .await?;
    audit(
        tx,
        NewAudit {
            workspace: r.workspace,
            action: "merge_refused",
            actor: &format!("connector:{}", r.source),
            reason: &why,
            person: Some(person),
            other: Some(owner),
            detail: serde_json::json!({ "identity": { "kind": key.kind, "value": key.value } }),
            now: r.now,
        },
    )
    .await?;
    Ok(person)
}

/// An unverified claim: recorded as an untrusted link, never a merge.
async fn link_unverified(
    tx: &mut AnyConnection,
    r: &Resolver<'_>,
    sender: i64,
    person: PersonId,
    key: &IdentityKey,
    node: Option<Node>,
    may_suggest: bool,
) -> Result<(), StoreError> {
    let (node_id, owner) = match &node {
        Some(node) => (node.id, node.person),
        None => {
            let new = NewNode {
                key,
                person: None,
                verified_by: None,
                is_address: false,
            };
            (insert_node(tx, r, new).await?, None)
        }
    };
    if !has_active_link(tx, sender, node_id, false).await? {
        let link = NewLink {
            workspace: r.workspace,
            from: sender,
            to: node_id,
            trusted: false,
            source_kind: SourceKind::Connector,
            source: r.source,
            reason: "stated by the sender, not proven",
            now: r.now,
        };
        insert_link(tx, link).await?;
    }
    if let Some(owner) = owner
        && owner != person
        && may_suggest
    {
        let detail = format!(
            "the person stated {} {}, which belongs to another person",
            key.kind, key.value
        );
        suggest(
            tx,
            NewSuggestion {
                workspace: r.workspace,
                person,
                other: owner,
                identity: Some(node_id),
                reason: SuggestionReason::UnverifiedMatch,
                detail: &detail,
                source: r.source,
                now: r.now,
            },
        )
        .await?;
    }
    Ok(())
}

/// Merges two persons (no guards here) and returns the survivor: the older.
/// Identities, conversations, messages, CSAT answers, events and
/// suggestions move to it; the other becomes a tombstone pointing at it.
async fn merge(
    tx: &mut AnyConnection,
    workspace: &str,
    a: PersonId,
    b: PersonId,
    actor: &str,
    reason: &str,
    now: Timestamp,
) -> Result<PersonId, StoreError> {
    let older: String =
        sqlx::query_scalar("SELECT id FROM persons WHERE id IN ($1, $2) ORDER BY created_at, id LIMIT 1")
            .bind(a.to_string())
            .bind(b.to_string())
            .fetch_one(&mut *tx)
            .await?;
    let (keep, gone) = if older == a.to_string() { (a, b) } else { (b, a) };
    let (keep_s, gone_s) = (keep.to_string(), gone.to_string());
    for table in ["identities", "conversations", "messages", "csat", "events"] {
        sqlx::query(&format!("UPDATE {table} SET person_id = $1 WHERE person_id = $2"))
            .bind(&keep_s)
            .bind(&gone_s)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE persons SET display_name = COALESCE(display_name, (SELECT display_name FROM persons WHERE id = $2)),
                            updated_at = $3
         WHERE id = $1",
    )
    .bind(&keep_s)
    .bind(&gone_s)
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE persons SET merged_into = $1, updated_at = $3 WHERE id = $2 OR merged_into = $2")
        .bind(&keep_s)
        .bind(&gone_s)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE suggestions SET status = 'merged', decided_at = $3, decided_by = $4
         WHERE status = 'open' AND ((person_id = $1 AND other_person_id = $2) OR (person_id = $2 AND other_person_id = $1))",
    )
    .bind(&keep_s)
    .bind(&gone_s)
    .bind(now.as_millis())
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    for column in ["person_id", "other_person_id"] {
        sqlx::query(&format!("UPDATE suggestions SET {column} = $1 WHERE {column} = $2"))
            .bind(&keep_s)
            .bind(&gone_s)
            .execute(&mut *tx)
            .await?;
    }
    audit(
        tx,
        NewAudit {
            workspace,
            action: "merge",
            actor,
            reason,
            person: Some(keep),
            other: Some(gone),
            detail: serde_json::json!({ "survivor": keep, "merged": gone }),
            now,
        },
    )
    .await?;
    events::append(
        tx,
        NewEvent {
            workspace,
            kind: kind::PERSON_MERGED,
            person: Some(keep),
            conversation: None,
            message: None,
            data: serde_json::json!({ "merged": gone, "actor": actor, "reason": reason }),
            at: now,
        },
    )
    .await?;
    Ok(keep)
}

/// The live person an id leads to (following merges), with its workspace.
async fn live_person(tx: &mut AnyConnection, id: PersonId) -> Result<(PersonId, String), StoreError> {
    let live = locks::live_person(tx, id).await?;
    let workspace: String = sqlx::query_scalar("SELECT workspace FROM persons WHERE id = $1")
        .bind(live.to_string())
        .fetch_one(&mut *tx)
        .await?;
    Ok((live, workspace))
}

/// An operator merges two persons: a trusted link between them, unless a
/// guard refuses. Returns the surviving person.
pub async fn operator_merge(
    tx: &mut AnyConnection,
    guards: &IdentityGuards,
    person: PersonId,
    other: PersonId,
    decision: &Decision,
    now: Timestamp,
) -> Result<PersonId, StoreError> {
    locks::persons(tx, &[person, other]).await?;
    let (a, workspace) = live_person(tx, person).await?;
    let (b, other_workspace) = live_person(tx, other).await?;
    if a == b {
        return Err(StoreError::Invalid(format!(
            "{person} and {other} are already the same person ({a})"
        )));
    }
    if workspace != other_workspace {
        return Err(StoreError::MergeRefused(format!(
            "the persons are in different workspaces ({workspace} and {other_workspace}); workspaces never share persons"
        )));
    }
    // Two records of one CRM on the two persons are what an operator's merge
    // resolves: the integrations merge their records when they see it.
    if let Some((_, why)) = merge_refusal(tx, &guards.for_operator(), a, b).await? {
        audit(
            tx,
            NewAudit {
                workspace: &workspace,
                action: "merge_refused",
                actor: &decision.actor,
                reason: &why,
                person: Some(a),
                other: Some(b),
                detail: serde_json::json!({ "requested_reason": decision.reason }),
                now,
            },
        )
        .await?;
        return Err(StoreError::MergeRefused(why));
    }
    let first_identity = |p: PersonId| {
        sqlx::query_scalar::<_, Option<i64>>("SELECT MIN(id) FROM identities WHERE person_id = $1").bind(p.to_string())
    };
    let from: Option<i64> = first_identity(a).fetch_one(&mut *tx).await?;
    let to: Option<i64> = first_identity(b).fetch_one(&mut *tx).await?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(StoreError::Invalid(
            "a person without identities cannot be merged".into(),
        ));
    };
    let link = NewLink {
        workspace: &workspace,
        from,
        to,
        trusted: true,
        source_kind: SourceKind::Operator,
        source: &decision.actor,
        reason: &decision.reason,
        now,
    };
    insert_link(tx, link).await?;
    merge(tx, &workspace, a, b, &decision.actor, &decision.reason, now).await
}

/// Removes a link. A trusted link's removal recomputes the person's
/// connected components: the one holding the oldest identity keeps the
/// person, each other anchored one becomes a new person, and messages,
/// conversations, CSAT answers and events follow their identities.
pub async fn remove_link(
    tx: &mut AnyConnection,
    link: i64,
    decision: &Decision,
    now: Timestamp,
) -> Result<Vec<PersonId>, StoreError> {
    let row = sqlx::query(
        "SELECT l.workspace, l.trusted, l.from_identity, i.person_id FROM links l
         JOIN identities i ON i.id = l.from_identity
         WHERE l.id = $1 AND l.removed_at IS NULL",
    )
    .bind(link)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("active link {link}")))?;
    let workspace: String = rows::get(&row, "workspace")?;
    let trusted = rows::flag(&row, "trusted")?;
    let person: Option<PersonId> = match rows::opt_id_col::<PersonId>(&row, "person_id")? {
        // Hold the person while its components are recomputed.
        Some(_) => Some(locks::person_of_identity(tx, rows::get(&row, "from_identity")?).await?),
        None => None,
    };
    sqlx::query("UPDATE links SET removed_at = $2, removed_by = $3, removed_reason = $4 WHERE id = $1")
        .bind(link)
        .bind(now.as_millis())
        .bind(&decision.actor)
        .bind(&decision.reason)
        .execute(&mut *tx)
        .await?;
    let Some(person) = person else {
        return Ok(Vec::new());
    };
    if !trusted {
        audit(
            tx,
            NewAudit {
                workspace: &workspace,
                action: "unlink",
                actor: &decision.actor,
                reason: &decision.reason,
                person: Some(person),
                other: None,
                detail: serde_json::json!({ "link": link }),
                now,
            },
        )
        .await?;
        return Ok(vec![person]);
    }
    let persons = recompute_person(tx, &workspace, person, now).await?;
    let detail = serde_json::json!({ "link": link, "persons": persons });
    audit(
        tx,
        NewAudit {
            workspace: &workspace,
            action: "split",
            actor: &decision.actor,
            reason: &decision.reason,
            person: Some(person),
            other: persons.get(1).copied(),
            detail: detail.clone(),
            now,
        },
    )
    .await?;
    for p in &persons {
        events::append(
            tx,
            NewEvent {
                workspace: &workspace,
                kind: kind::PERSON_SPLIT,
                person: Some(*p),
                conversation: None,
                message: None,
                data: serde_json::json!({ "link": link, "persons": persons, "actor": decision.actor, "reason": decision.reason }),
                at: now,
            },
        )
        .await?;
    }
    Ok(persons)
}

/// Splits a person into the connected components of its trusted links.
async fn recompute_person(
    tx: &mut AnyConnection,
    workspace: &str,
    person: PersonId,
    now: Timestamp,
) -> Result<Vec<PersonId>, StoreError> {
    let person_s = person.to_string();
    let node_rows = sqlx::query("SELECT id, is_address FROM identities WHERE person_id = $1 ORDER BY id")
        .bind(&person_s)
        .fetch_all(&mut *tx)
        .await?;
    let mut nodes = Vec::with_capacity(node_rows.len());
    let mut addresses = Vec::new();
    for row in &node_rows {
        let id: i64 = rows::get(row, "id")?;
        nodes.push(id);
        if rows::flag(row, "is_address")? {
            addresses.push(id);
        }
    }
    let edge_rows = sqlx::query(
        "SELECT l.from_identity, l.to_identity FROM links l
         JOIN identities a ON a.id = l.from_identity JOIN identities b ON b.id = l.to_identity
         WHERE l.trusted = 1 AND l.removed_at IS NULL AND a.person_id = $1 AND b.person_id = $1",
    )
    .bind(&person_s)
    .fetch_all(&mut *tx)
    .await?;
    let edges = edge_rows
        .iter()
        .map(|row| {
            Ok((
                rows::get::<i64>(row, "from_identity")?,
                rows::get::<i64>(row, "to_identity")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let pieces = components(&nodes, &edges);
    // An identity alone without messages is only a claim: it belongs to nobody.
    let anchored: Vec<&Vec<i64>> = pieces
        .iter()
        .filter(|piece| piece.len() > 1 || addresses.contains(&piece[0]))
        .collect();
    let mut persons = vec![person];
    for piece in &pieces {
        let owner = match anchored.iter().position(|a| *a == piece) {
            // Components are ordered by their oldest identity: the first keeps the person.
            Some(0) => continue,
            Some(_) => {
                let new = create_person(tx, workspace, now).await?;
                persons.push(new);
                Some(new)
            }
            None => None,
        };
        let ids = rows::placeholders(2, piece.len());
        let sql = format!("UPDATE identities SET person_id = $1 WHERE id IN ({ids})");
        let mut update = sqlx::query(&sql).bind(owner.map(|p| p.to_string()));
        for id in piece {
            update = update.bind(*id);
        }
        update.execute(&mut *tx).await?;
    }
    if persons.len() == 1 {
        return Ok(persons);
    }
    follow_identities(tx, workspace, &persons, now).await?;
    Ok(persons)
}

/// After a split, moves messages, CSAT answers, conversations and events to
/// the persons their identities now belong to.
async fn follow_identities(
    tx: &mut AnyConnection,
    workspace: &str,
    persons: &[PersonId],
    now: Timestamp,
) -> Result<(), StoreError> {
    let old = persons[0].to_string();
    for table in ["messages", "csat"] {
        sqlx::query(&format!(
            "UPDATE {table} SET person_id = (SELECT person_id FROM identities WHERE identities.id = {table}.identity_id)
             WHERE person_id = $1"
        ))
        .bind(&old)
        .execute(&mut *tx)
        .await?;
    }
    // A conversation goes to the person of its first message; messages of
    // other persons in it move to a conversation of their own.
    let conversations: Vec<String> = sqlx::query_scalar("SELECT id FROM conversations WHERE person_id = $1")
        .bind(&old)
        .fetch_all(&mut *tx)
        .await?;
    for conversation in conversations {
        let owners = sqlx::query(
            "SELECT person_id, MIN(created_at) AS first FROM messages WHERE conversation_id = $1
             GROUP BY person_id ORDER BY first, person_id",
        )
        .bind(&conversation)
        .fetch_all(&mut *tx)
        .await?;
        let mut owners = owners.iter().map(|row| rows::id_col::<PersonId>(row, "person_id"));
        let Some(first) = owners.next().transpose()? else {
            continue;
        };
        sqlx::query("UPDATE conversations SET person_id = $1 WHERE id = $2")
            .bind(first.to_string())
            .bind(&conversation)
            .execute(&mut *tx)
            .await?;
        for owner in owners {
            let owner = owner?;
            let split_off = ConversationId::new();
            sqlx::query(
                "INSERT INTO conversations (id, workspace, person_id, status, channel, connector_id, first_channel,
                                            first_connector_id, assignee, tags, created_at, updated_at, last_message_at)
                 SELECT $1, workspace, $2, status, channel, connector_id, first_channel, first_connector_id, assignee,
                        tags, created_at, $3, last_message_at
                 FROM conversations WHERE id = $4",
            )
            .bind(split_off.to_string())
            .bind(owner.to_string())
            .bind(now.as_millis())
            .bind(&conversation)
            .execute(&mut *tx)
            .await?;
            for table in ["messages", "csat"] {
                sqlx::query(&format!(
                    "UPDATE {table} SET conversation_id = $1 WHERE conversation_id = $2 AND person_id = $3"
                ))
                .bind(split_off.to_string())
                .bind(&conversation)
                .bind(owner.to_string())
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE outbox SET conversation_id = $1
                 WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = $1)",
            )
            .bind(split_off.to_string())
            .execute(&mut *tx)
            .await?;
            super::conversations::recompute(tx, split_off).await?;
            events::append(
                tx,
                NewEvent {
                    workspace,
                    kind: kind::CONVERSATION_OPENED,
                    person: Some(owner),
                    conversation: Some(split_off),
                    message: None,
                    data: serde_json::json!({ "split_from": conversation }),
                    at: now,
                },
            )
            .await?;
        }
        super::conversations::recompute(tx, rows::id(&conversation)?).await?;
    }
    // Events follow their message, else their conversation.
    sqlx::query(
        "UPDATE events SET
            person_id = (SELECT person_id FROM messages WHERE messages.id = events.message_id),
            conversation_id = (SELECT conversation_id FROM messages WHERE messages.id = events.message_id)
         WHERE message_id IS NOT NULL AND person_id = $1",
    )
    .bind(&old)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE events SET person_id = (SELECT person_id FROM conversations WHERE conversations.id = events.conversation_id)
         WHERE message_id IS NULL AND conversation_id IS NOT NULL AND person_id = $1",
    )
    .bind(&old)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Accepts (merging) or dismisses an open suggestion.
pub async fn decide_suggestion(
    tx: &mut AnyConnection,
    guards: &IdentityGuards,
    id: i64,
    accept: bool,
    decision: &Decision,
    now: Timestamp,
) -> Result<Suggestion, StoreError> {
    let suggestion = read::suggestion_in(tx, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("suggestion {id}")))?;
    if suggestion.status != "open" {
        return Err(StoreError::Invalid(format!(
            "suggestion {id} is already {}",
            suggestion.status
        )));
    }
    if accept {
        operator_merge(
            tx,
            guards,
            suggestion.person_id,
            suggestion.other_person_id,
            decision,
            now,
        )
        .await?;
    } else {
        let workspace: String = sqlx::query_scalar("SELECT workspace FROM suggestions WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        audit(
            tx,
            NewAudit {
                workspace: &workspace,
                action: "suggestion_dismissed",
                actor: &decision.actor,
                reason: &decision.reason,
                person: Some(suggestion.person_id),
                other: Some(suggestion.other_person_id),
                detail: serde_json::json!({ "suggestion": id }),
                now,
            },
        )
        .await?;
    }
    // An accepted suggestion may already be closed by the merge itself.
    sqlx::query("UPDATE suggestions SET status = $2, decided_at = $3, decided_by = $4 WHERE id = $1")
        .bind(id)
        .bind(if accept { "accepted" } else { "dismissed" })
        .bind(now.as_millis())
        .bind(&decision.actor)
        .execute(&mut *tx)
        .await?;
    read::suggestion_in(tx, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("suggestion {id}")))
}

/// An integration says `key` (a CRM record id) is this person's record:
/// the id joins the person as a verified identity with a trusted link from
/// the person's first identity. A record id already on another person is
/// left there and raises a suggestion. Returns the live person.
pub async fn link_record(
    tx: &mut AnyConnection,
    guards: &IdentityGuards,
    person: PersonId,
    key: &IdentityKey,
    source: &str,
    now: Timestamp,
) -> Result<PersonId, StoreError> {
    let workspace: Option<String> = sqlx::query_scalar("SELECT workspace FROM persons WHERE id = $1")
        .bind(person.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let workspace = workspace.ok_or_else(|| StoreError::NotFound(format!("person {person}")))?;
    // Identity locks come before person locks, as in `resolve`.
    let mut keys = vec![format!("identity|{workspace}|{}|{}", key.kind, key.value)];
    locks::keys(tx, &mut keys).await?;
    let person = locks::live_person(tx, person).await?;
    let r = Resolver {
        workspace: &workspace,
        source,
        guards,
        now,
    };
    let anchor: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM identities WHERE person_id = $1")
        .bind(person.to_string())
        .fetch_one(&mut *tx)
        .await?;
    let Some(anchor) = anchor else {
        return Err(StoreError::Invalid(format!(
            "person {person} has no identities to link a record to"
        )));
    };
    let link = |to: i64| NewLink {
        workspace: &workspace,
        from: anchor,
        to,
        trusted: true,
        source_kind: SourceKind::Connector,
        source,
        reason: "record id returned by the integration",
        now,
    };
    match find_node(tx, &workspace, key).await? {
        None => {
            let new = NewNode {
                key,
                person: Some(person),
                verified_by: Some(source),
                is_address: false,
            };
            let id = insert_node(tx, &r, new).await?;
            insert_link(tx, link(id)).await?;
        }
        Some(node) if node.person == Some(person) => {
            if !node.verified {
                mark_verified(tx, node.id, source).await?;
            }
        }
        Some(node) if node.person.is_none() => {
            mark_verified(tx, node.id, source).await?;
            adopt_node(tx, &r, &node, key, person).await?;
            insert_link(tx, link(node.id)).await?;
        }
        Some(node) => {
            let owner = node.person.unwrap_or(person);
            let detail = format!(
                "{} {} returned for this person belongs to another person",
                key.kind, key.value
            );
            suggest(
                tx,
                NewSuggestion {
                    workspace: &workspace,
                    person,
                    other: owner,
                    identity: Some(node.id),
                    reason: SuggestionReason::UniqueConflict,
                    detail: &detail,
                    source,
                    now,
                },
            )
            .await?;
        }
    }
    Ok(person)
}
