//! What keeps the identity graph from linking people who are not the same:
//! a blocklist of shared or placeholder values, a cap on identities of one
//! kind per person, and kinds that are unique per person.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{IdentityKey, IdentityKind};

/// Email local parts that belong to machines, never to a person.
const MACHINE_LOCAL_PARTS: &[&str] = &[
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "mailer-daemon",
    "postmaster",
    "bounce",
    "bounces",
];

/// Placeholder values sites send when they have no real one.
const DEFAULT_BLOCKLIST: &[(IdentityKind, &str)] = &[
    (IdentityKind::Email, "test@test.com"),
    (IdentityKind::Email, "test@example.com"),
    (IdentityKind::Email, "example@example.com"),
    (IdentityKind::Email, "email@example.com"),
    (IdentityKind::Email, "user@example.com"),
    (IdentityKind::Email, "a@a.com"),
    (IdentityKind::Email, "asdf@asdf.com"),
    (IdentityKind::Email, "none@none.com"),
    (IdentityKind::Phone, "+12025550100"),
    (IdentityKind::Phone, "+12345678901"),
    (IdentityKind::ExternalId, "0"),
    (IdentityKind::ExternalId, "null"),
    (IdentityKind::ExternalId, "undefined"),
    (IdentityKind::ExternalId, "none"),
    (IdentityKind::ExternalId, "anonymous"),
    (IdentityKind::ExternalId, "guest"),
    (IdentityKind::ExternalId, "test"),
];

/// The guards, from config.
#[derive(Debug, Clone)]
pub struct IdentityGuards {
    blocklist: HashSet<IdentityKey>,
    max_per_kind: BTreeMap<IdentityKind, usize>,
    unique_kinds: BTreeSet<IdentityKind>,
}

impl Default for IdentityGuards {
    fn default() -> Self {
        let blocklist = DEFAULT_BLOCKLIST
            .iter()
            .map(|(kind, value)| IdentityKey::from_normalized(*kind, *value))
            .collect();
        let max_per_kind = BTreeMap::from([
            (IdentityKind::Email, 10),
            (IdentityKind::Phone, 10),
            (IdentityKind::ChannelUser, 100),
            (IdentityKind::CrmId, 10),
            (IdentityKind::ExternalId, 5),
        ]);
        Self {
            blocklist,
            max_per_kind,
            unique_kinds: BTreeSet::from([IdentityKind::CrmId, IdentityKind::ExternalId]),
        }
    }
}

impl IdentityGuards {
    /// Adds values (already normalised) to the blocklist.
    pub fn block(&mut self, keys: impl IntoIterator<Item = IdentityKey>) {
        self.blocklist.extend(keys);
    }

    /// Sets the most identities of `kind` one person may hold.
    pub fn set_max(&mut self, kind: IdentityKind, max: usize) {
        self.max_per_kind.insert(kind, max);
    }

    /// Replaces the kinds that are unique per person.
    pub fn set_unique_kinds(&mut self, kinds: impl IntoIterator<Item = IdentityKind>) {
        self.unique_kinds = kinds.into_iter().collect();
    }

    /// Whether a value must never link two people (shared inboxes, test
    /// addresses, placeholder ids).
    pub fn is_blocked(&self, key: &IdentityKey) -> bool {
        if self.blocklist.contains(key) {
            return true;
        }
        key.kind == IdentityKind::Email
            && key
                .value
                .split_once('@')
                .is_some_and(|(local, _)| MACHINE_LOCAL_PARTS.contains(&local.to_ascii_lowercase().as_str()))
    }

    /// Why two persons with these identities cannot be merged automatically:
    /// they hold different values of a kind that is unique per person (two
    /// CRM records of the same CRM, two customer ids).
    pub fn unique_conflict(&self, a: &[IdentityKey], b: &[IdentityKey]) -> Option<String> {
        for kind in &self.unique_kinds {
            for x in a.iter().filter(|k| k.kind == *kind) {
                for y in b.iter().filter(|k| k.kind == *kind) {
                    if namespace(x) == namespace(y) && x.value != y.value {
                        return Some(format!(
                            "the persons hold different {kind} values ({} and {})",
                            x.value, y.value
                        ));
                    }
                }
            }
        }
        None
    }

    /// The guards for an operator's explicit merge: CRM ids are no longer
    /// unique (the integrations merge their records after the persons merge).
    pub fn for_operator(&self) -> Self {
        let mut guards = self.clone();
        guards.unique_kinds.remove(&IdentityKind::CrmId);
        guards
    }

    /// Why the union of two persons' identities is too many of one kind.
    pub fn over_cap(&self, a: &[IdentityKey], b: &[IdentityKey]) -> Option<String> {
        let union: BTreeSet<&IdentityKey> = a.iter().chain(b).collect();
        for (kind, max) in &self.max_per_kind {
            let count = union.iter().filter(|k| k.kind == *kind).count();
            if count > *max {
                return Some(format!(
                    "the merged person would hold {count} {kind} identities; the limit is {max}"
                ));
            }
        }
        None
    }
}

/// The namespace of a CRM id (`hubspot` of `hubspot:123`); kinds without one share `""`.
fn namespace(key: &IdentityKey) -> &str {
    match key.kind {
        IdentityKind::CrmId | IdentityKind::ChannelUser => key.value.split_once(':').map_or("", |(ns, _)| ns),
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: IdentityKind, value: &str) -> IdentityKey {
        IdentityKey::from_normalized(kind, value)
    }

    #[test]
    fn placeholders_and_machine_addresses_are_blocked() {
        let guards = IdentityGuards::default();
        assert!(guards.is_blocked(&key(IdentityKind::Email, "test@test.com")));
        assert!(guards.is_blocked(&key(IdentityKind::Email, "NoReply@shop.example")));
        assert!(guards.is_blocked(&key(IdentityKind::ExternalId, "undefined")));
        assert!(!guards.is_blocked(&key(IdentityKind::Email, "ann@example.com")));
    }

    #[test]
    fn different_ids_of_a_unique_kind_conflict_within_one_namespace() {
        let guards = IdentityGuards::default();
        let a = [
            key(IdentityKind::CrmId, "hubspot:1"),
            key(IdentityKind::Email, "a@x.com"),
        ];
        let b = [key(IdentityKind::CrmId, "hubspot:2")];
        let c = [key(IdentityKind::CrmId, "salesforce:9")];
        assert!(guards.unique_conflict(&a, &b).is_some());
        assert!(guards.unique_conflict(&a, &c).is_none());
        assert!(guards.unique_conflict(&a, &a).is_none());
    }

    #[test]
    fn a_merge_over_the_cap_is_refused() {
        let mut guards = IdentityGuards::default();
        guards.set_max(IdentityKind::Phone, 2);
        let a = [
            key(IdentityKind::Phone, "+14155552671"),
            key(IdentityKind::Phone, "+14155552672"),
        ];
        let b = [key(IdentityKind::Phone, "+14155552673")];
        assert!(
            guards
                .over_cap(&a, &b)
                .unwrap()
                .contains("3 phone identities; the limit is 2")
        );
        assert!(guards.over_cap(&a, &a).is_none());
    }
}
