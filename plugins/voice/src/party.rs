//! Who the customer on a call or in a video room is, and which addresses are
//! the business's own people.

use omni_plugin_sdk::CallDirection;
use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::twilio::SignedForm;

use crate::call::CallState;

/// Caller ids Twilio reports when the caller withheld theirs: the words, and
/// the numbers that spell them on a keypad (ANONYMOUS, RESTRICTED, BLOCKED,
/// UNKNOWN, UNAVAILABLE). They are nobody's number and must never link people.
const WITHHELD: [&str; 11] = [
    "anonymous",
    "restricted",
    "blocked",
    "unknown",
    "unavailable",
    "private",
    "+266696687",
    "+7378742833",
    "+2562533",
    "+8656696",
    "+86282452253",
];

/// The business's own addresses: config `agent_identities` and `forward_to`.
/// A call leg or participant that is one of them is not a customer's record.
#[derive(Debug, Default)]
pub struct Agents(Vec<String>);

impl Agents {
    /// Reads the instance's agent addresses.
    pub fn read(host: &Host) -> Result<Self, PluginError> {
        let mut agents: Vec<String> = host.config_or("agent_identities", Vec::new())?;
        let forward_to: Option<String> = host.config("forward_to")?;
        agents.extend(forward_to);
        Ok(Self(agents))
    }

    /// Whether `address` (a phone number, `client:name`, a participant identity) is an agent's.
    pub fn contains(&self, address: &str) -> bool {
        self.0.iter().any(|agent| agent == address)
    }
}

/// Fills in the party and direction of a call from Twilio's `Direction`,
/// `From` and `To` when the request has them and they are not known yet.
///
/// The customer is the caller (`From`) of an inbound call and the callee
/// (`To`) of an outbound one (`outbound-api` from the REST API, `outbound-dial`
/// from `<Dial>`). A leg whose customer side is an agent is marked so and
/// never reported: forwarding a call to `forward_to` creates such a leg.
pub fn identify(host: &Host, form: &SignedForm, state: &mut CallState, call_sid: &str) -> Result<(), PluginError> {
    if state.party.is_some() || state.agent {
        return Ok(());
    }
    let (Some(from), Some(to)) = (
        form.get("From").or_else(|| form.get("Caller")),
        form.get("To").or_else(|| form.get("Called")),
    ) else {
        return Ok(());
    };
    let direction = match form.get("Direction") {
        Some(direction) if direction.starts_with("outbound") => CallDirection::Outbound,
        _ => CallDirection::Inbound,
    };
    let address = match direction {
        CallDirection::Inbound => from,
        CallDirection::Outbound => to,
    };
    if Agents::read(host)?.contains(address) {
        host.debug(&format!("call {call_sid} is with agent {address}; not recorded"));
        state.agent = true;
        return Ok(());
    }
    // STIR/SHAKEN: a caller id whose attestation failed was spoofed or altered.
    let failed_attestation = direction == CallDirection::Inbound
        && form
            .get("StirVerstat")
            .is_some_and(|verstat| verstat.contains("Failed"));
    state.party = Some(phone_party(address, call_sid, !failed_attestation));
    state.direction = Some(direction);
    Ok(())
}

/// The identity of a call's customer side.
///
/// Verified (unless `trusted` is false): the request is signed with the
/// account's auth token, so Twilio itself attests the number the carrier
/// presented, or the number the business dialled. A withheld caller id
/// becomes a per-call placeholder that links no one; `client:` and `sip:`
/// addresses stay channel users.
pub fn phone_party(address: &str, call_sid: &str, trusted: bool) -> Identity {
    let address = address.trim();
    if address.is_empty() || WITHHELD.iter().any(|w| w.eq_ignore_ascii_case(address)) {
        return Identity::channel_user(format!("withheld-caller-id/{call_sid}"));
    }
    let identity = if is_e164(address) {
        Identity::phone(address)
    } else {
        Identity::channel_user(address)
    };
    // A `client:` name comes from an access token the business minted; a SIP
    // URI or other raw caller id is whatever the far end claims.
    let proven = trusted && (identity.kind == IdentityKind::Phone || address.starts_with("client:"));
    if proven { identity.verified() } else { identity }
}

/// How a video participant's identity (set in the business's access token) maps to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParticipantIdentity {
    /// An email address when it looks like one, else a channel user id.
    Auto,
    /// The business's own customer id.
    ExternalId,
    /// Always a channel user id.
    ChannelUser,
}

/// The identity of a video participant.
///
/// Verified: Twilio admits a participant only with an access token signed by
/// the business's API key, and the identity in it is the one the business's
/// backend chose — the same proof as a web chat's signed user id.
pub fn participant(identity: &str, mode: ParticipantIdentity) -> Identity {
    let identity = identity.trim();
    match mode {
        ParticipantIdentity::ExternalId => Identity::external_id(identity),
        ParticipantIdentity::ChannelUser => Identity::channel_user(identity),
        ParticipantIdentity::Auto if looks_like_email(identity) => Identity::email(identity),
        ParticipantIdentity::Auto => Identity::channel_user(identity),
    }
    .verified()
}

/// `+` followed by 7 to 15 digits.
fn is_e164(value: &str) -> bool {
    value
        .strip_prefix('+')
        .is_some_and(|digits| (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
}

fn looks_like_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_verified_and_withheld_ids_link_no_one() {
        assert_eq!(
            phone_party("+14155550100", "CA1", true),
            Identity::phone("+14155550100").verified()
        );
        assert_eq!(
            phone_party("+14155550100", "CA1", false),
            Identity::phone("+14155550100")
        );
        for withheld in ["+266696687", "Anonymous", "+7378742833", ""] {
            assert_eq!(
                phone_party(withheld, "CA1", true),
                Identity::channel_user("withheld-caller-id/CA1"),
                "{withheld:?}"
            );
        }
        assert_eq!(
            phone_party("client:alice", "CA1", true),
            Identity::channel_user("client:alice").verified()
        );
        assert_eq!(
            phone_party("sip:bob@example.com", "CA1", true),
            Identity::channel_user("sip:bob@example.com")
        );
    }

    #[test]
    fn participants_map_by_mode() {
        assert_eq!(
            participant("ann@example.com", ParticipantIdentity::Auto),
            Identity::email("ann@example.com").verified()
        );
        assert_eq!(
            participant("user-42", ParticipantIdentity::Auto),
            Identity::channel_user("user-42").verified()
        );
        assert_eq!(
            participant("user-42", ParticipantIdentity::ExternalId),
            Identity::external_id("user-42").verified()
        );
        assert_eq!(
            participant("ann@example.com", ParticipantIdentity::ChannelUser),
            Identity::channel_user("ann@example.com").verified()
        );
        assert!(!looks_like_email("a@b"));
        assert!(!looks_like_email("a b@c.com"));
        assert!(!looks_like_email("@c.com"));
    }
}
