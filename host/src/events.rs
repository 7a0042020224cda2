//! Turns what a plugin returned into the store's normalised events,
//! refusing output over the limits and normalising every identity.

use omni_core::{
    Attachment, CallEvent, CsatEvent, DeliveryUpdate, Direction, IdentityClaim, IdentityKind, InboundEvent,
    InboundMessage, IntegrationActivity, MessageStatus, Normalizer, ProfileUpdate, Timestamp,
};

use crate::runtime::bindings::wit;
use crate::runtime::{Limits, Manifest};

/// Longest external id, thread id or similar reference, in bytes.
const MAX_REF_BYTES: usize = 512;
/// Most claims or attachments on one event.
const MAX_LIST: usize = 32;

/// Why a plugin's events cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// More output than the limits allow: a plugin bug or a hostile plugin.
    #[error("{0}")]
    OverLimit(String),
    /// An event the store cannot use, e.g. an unparseable sender address.
    #[error("event {index}: {message}")]
    Invalid {
        /// Position in the list.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

/// Maps a plugin identity kind to the store's.
pub fn identity_kind(kind: wit::IdentityKind) -> IdentityKind {
    match kind {
        wit::IdentityKind::Email => IdentityKind::Email,
        wit::IdentityKind::Phone => IdentityKind::Phone,
        wit::IdentityKind::ChannelUser => IdentityKind::ChannelUser,
        wit::IdentityKind::CrmId => IdentityKind::CrmId,
        wit::IdentityKind::ExternalId => IdentityKind::ExternalId,
    }
}

/// The store identity kind back to the plugin's, for `send`.
pub fn wit_identity_kind(kind: IdentityKind) -> wit::IdentityKind {
    match kind {
        IdentityKind::Email => wit::IdentityKind::Email,
        IdentityKind::Phone => wit::IdentityKind::Phone,
        IdentityKind::ChannelUser => wit::IdentityKind::ChannelUser,
        IdentityKind::CrmId => wit::IdentityKind::CrmId,
        IdentityKind::ExternalId => wit::IdentityKind::ExternalId,
    }
}

/// Converts a list of plugin events.
pub fn normalize(
    events: Vec<wit::Event>,
    manifest: &Manifest,
    limits: &Limits,
    normalizer: &Normalizer,
) -> Result<Vec<InboundEvent>, EventError> {
    if events.len() > limits.max_events {
        return Err(EventError::OverLimit(format!(
            "{} events returned; the limit is {}",
            events.len(),
            limits.max_events
        )));
    }
    let ctx = Ctx {
        manifest,
        limits,
        normalizer,
    };
    let mut out = Vec::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        let invalid = |message: String| EventError::Invalid { index, message };
        let converted = match event {
            wit::Event::MessageReceived(m) => Some(InboundEvent::Message(ctx.message(m).map_err(invalid)?)),
            wit::Event::DeliveryStatus(s) => Some(InboundEvent::Delivery(ctx.delivery(s).map_err(invalid)?)),
            wit::Event::ContactProfile(p) => Some(InboundEvent::Profile(ctx.profile(p).map_err(invalid)?)),
            wit::Event::CallRecord(c) => Some(InboundEvent::Call(ctx.call(c).map_err(invalid)?)),
            wit::Event::Csat(c) => Some(InboundEvent::Csat(ctx.csat(c).map_err(invalid)?)),
            wit::Event::Integration(a) => Some(InboundEvent::Integration(ctx.activity(a).map_err(invalid)?)),
            // Typing indicators are not stored.
            wit::Event::Activity(_) => None,
        };
        out.extend(converted);
    }
    Ok(out)
}

struct Ctx<'a> {
    manifest: &'a Manifest,
    limits: &'a Limits,
    normalizer: &'a Normalizer,
}

impl Ctx<'_> {
    fn reference(&self, field: &str, value: &str) -> Result<(), String> {
        if value.is_empty() || value.len() > MAX_REF_BYTES {
            return Err(format!("{field} must be 1 to {MAX_REF_BYTES} bytes"));
        }
        Ok(())
    }

    fn text(&self, field: &str, value: &str) -> Result<(), String> {
        if value.len() > self.limits.max_text_bytes {
            return Err(format!(
                "{field} has {} bytes; the limit is {}",
                value.len(),
                self.limits.max_text_bytes
            ));
        }
        Ok(())
    }

    fn identity(&self, identity: &wit::Identity) -> Result<IdentityClaim, String> {
        let key = self
            .normalizer
            .identity(
                identity_kind(identity.kind),
                &identity.value,
                &self.manifest.identity_namespace,
            )
            .map_err(|e| e.to_string())?;
        Ok(IdentityClaim {
            key,
            verified: identity.verified,
        })
    }

    /// Claims that do not parse are dropped rather than failing the event:
    /// a mistyped email in a chat form must not lose the message.
    fn claims(&self, claims: &[wit::Identity]) -> Result<Vec<IdentityClaim>, String> {
        if claims.len() > MAX_LIST {
            return Err(format!("{} claims; the limit is {MAX_LIST}", claims.len()));
        }
        Ok(claims
            .iter()
            .filter_map(|claim| match self.identity(claim) {
                Ok(claim) => Some(claim),
                Err(e) => {
                    tracing::debug!(plugin = %self.manifest.id, "dropping an unusable identity claim: {e}");
                    None
                }
            })
            .collect())
    }

    fn message(&self, m: wit::InboundMessage) -> Result<InboundMessage, String> {
        self.reference("external-id", &m.external_id)?;
        self.text("text", &m.text)?;
        if m.attachments.len() > MAX_LIST {
            return Err(format!("{} attachments; the limit is {MAX_LIST}", m.attachments.len()));
        }
        for reference in [&m.thread_id, &m.reply_to].into_iter().flatten() {
            self.reference("thread-id/reply-to", reference)?;
        }
        if m.references.len() > 100 {
            return Err(format!("{} references; the limit is 100", m.references.len()));
        }
        for reference in &m.references {
            self.reference("references", reference)?;
        }
        let sender = self.identity(&m.sender).map_err(|e| format!("sender: {e}"))?;
        Ok(InboundMessage {
            external_id: m.external_id,
            claims: self.claims(&m.claims)?,
            sender,
            display_name: m.display_name.map(|n| n.chars().take(200).collect()),
            text: m.text,
            attachments: m.attachments.into_iter().map(attachment).collect(),
            thread_id: m.thread_id,
            reply_to: m.reply_to,
            references: m.references,
            sent_at: m.sent_at.map(Timestamp::from_millis),
        })
    }

    fn delivery(&self, s: wit::DeliveryStatus) -> Result<DeliveryUpdate, String> {
        self.reference("external-id", &s.external_id)?;
        Ok(DeliveryUpdate {
            external_id: s.external_id,
            status: match s.state {
                wit::DeliveryState::Sent => MessageStatus::Sent,
                wit::DeliveryState::Delivered => MessageStatus::Delivered,
                wit::DeliveryState::Read => MessageStatus::Read,
                wit::DeliveryState::Failed => MessageStatus::Failed,
            },
            error: s.error.map(|e| e.chars().take(1000).collect()),
            at: s.at.map(Timestamp::from_millis),
        })
    }

    fn profile(&self, p: wit::ContactProfile) -> Result<ProfileUpdate, String> {
        Ok(ProfileUpdate {
            subject: self.identity(&p.subject).map_err(|e| format!("subject: {e}"))?,
            display_name: p.display_name.map(|n| n.chars().take(200).collect()),
            claims: self.claims(&p.claims)?,
        })
    }

    fn call(&self, c: wit::CallRecord) -> Result<CallEvent, String> {
        self.reference("external-id", &c.external_id)?;
        if let Some(transcript) = &c.transcript {
            self.text("transcript", transcript)?;
        }
        Ok(CallEvent {
            external_id: c.external_id,
            party: self.identity(&c.party).map_err(|e| format!("party: {e}"))?,
            direction: match c.direction {
                wit::CallDirection::Inbound => Direction::Inbound,
                wit::CallDirection::Outbound => Direction::Outbound,
            },
            status: c.status.chars().take(64).collect(),
            started_at: c.started_at.map(Timestamp::from_millis),
            duration_ms: c.duration_ms,
            recording_url: c.recording_url,
            transcript: c.transcript,
        })
    }
}

impl Ctx<'_> {
    fn csat(&self, c: wit::CsatAnswer) -> Result<CsatEvent, String> {
        self.reference("external-id", &c.external_id)?;
        if c.scale < 2 || c.score < 1 || c.score > c.scale {
            return Err(format!("csat score {} is not on a scale of 1 to {}", c.score, c.scale));
        }
        if let Some(comment) = &c.comment {
            self.text("comment", comment)?;
        }
        Ok(CsatEvent {
            external_id: c.external_id,
            subject: self.identity(&c.subject).map_err(|e| format!("subject: {e}"))?,
            score: c.score,
            scale: c.scale,
            comment: c.comment,
            at: c.at.map(Timestamp::from_millis),
        })
    }
}

impl Ctx<'_> {
    fn activity(&self, a: wit::IntegrationEvent) -> Result<IntegrationActivity, String> {
        self.reference("external-id", &a.external_id)?;
        let kind_ok = !a.kind.is_empty()
            && a.kind.len() <= 64
            && a.kind.starts_with(|c: char| c.is_ascii_lowercase())
            && a.kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
        if !kind_ok {
            return Err(format!(
                "kind {:?} must be 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter",
                a.kind
            ));
        }
        self.text("summary", &a.summary)?;
        self.text("data", &a.data)?;
        let data: serde_json::Value = serde_json::from_str(&a.data).map_err(|e| format!("data is not JSON: {e}"))?;
        if !data.is_object() {
            return Err("data must be a JSON object".to_owned());
        }
        Ok(IntegrationActivity {
            external_id: a.external_id,
            subject: self.identity(&a.subject).map_err(|e| format!("subject: {e}"))?,
            claims: self.claims(&a.claims)?,
            kind: a.kind,
            summary: a.summary.chars().take(500).collect(),
            data,
            at: a.at.map(Timestamp::from_millis),
        })
    }
}

fn attachment(a: wit::Attachment) -> Attachment {
    Attachment {
        name: a.name,
        content_type: a.content_type,
        size: a.size,
        url: a.url,
    }
}

/// Converts a store attachment for `send`.
pub fn wit_attachment(a: &Attachment) -> wit::Attachment {
    wit::Attachment {
        name: a.name.clone(),
        content_type: a.content_type.clone(),
        size: a.size,
        url: a.url.clone(),
    }
}
