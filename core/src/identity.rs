//! Identities: the normalised identifiers that tie messages to a person.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of identifier an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// An email address.
    Email,
    /// A phone number in E.164.
    Phone,
    /// A channel-specific user id, namespaced `<channel>:<id>`.
    ChannelUser,
    /// A CRM record id, namespaced `<crm>:<id>`.
    CrmId,
    /// The business's own customer id.
    ExternalId,
}

impl IdentityKind {
    /// The name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::ChannelUser => "channel_user",
            IdentityKind::CrmId => "crm_id",
            IdentityKind::ExternalId => "external_id",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email" => IdentityKind::Email,
            "phone" => IdentityKind::Phone,
            "channel_user" => IdentityKind::ChannelUser,
            "crm_id" => IdentityKind::CrmId,
            "external_id" => IdentityKind::ExternalId,
            _ => return None,
        })
    }
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a raw identifier could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Not an email address.
    #[error("{0:?} is not an email address")]
    InvalidEmail(String),
    /// Not a phone number in international form.
    #[error("{0:?} is not a phone number in international form (+ and 8 to 15 digits)")]
    InvalidPhone(String),
    /// Empty, too long or containing control characters.
    #[error("invalid {kind} identifier: {reason}")]
    Invalid {
        /// The kind being parsed.
        kind: IdentityKind,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A normalised email address: trimmed, domain lower-cased. The local part
/// keeps its case, dots and `+tags`, since stripping them would merge
/// different people on providers that treat them as distinct.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address.
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let trimmed = raw.trim();
        let invalid = || IdentityError::InvalidEmail(raw.to_owned());
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@');
        if !domain_ok || !local_ok {
            return Err(invalid());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form, e.g. `+14155550100`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneE164(String);

impl PhoneE164 {
    /// Parses a number written in international form, ignoring spaces, dots,
    /// dashes and parentheses. Numbers without a country code are refused.
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let invalid = || IdentityError::InvalidPhone(raw.to_owned());
        let trimmed = raw.trim();
        let digits_part = trimmed
            .strip_prefix('+')
            .or_else(|| trimmed.strip_prefix("00"))
            .ok_or_else(invalid)?;
        let mut digits = String::with_capacity(16);
        for c in digits_part.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => return Err(invalid()),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(invalid());
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The number as `+<digits>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A normalised identifier: the key the identity graph is built on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityKey {
    /// What kind of identifier.
    pub kind: IdentityKind,
    /// The normalised value.
    pub value: String,
}

impl IdentityKey {
    /// Normalises a raw identifier. `namespace` prefixes channel user ids and
    /// CRM ids (`telegram:123`), so ids from different channels never collide.
    pub fn normalize(kind: IdentityKind, raw: &str, namespace: &str) -> Result<Self, IdentityError> {
        let value = match kind {
            IdentityKind::Email => Email::parse(raw)?.0,
            IdentityKind::Phone => PhoneE164::parse(raw)?.0,
            IdentityKind::ChannelUser | IdentityKind::CrmId => {
                format!("{namespace}:{}", opaque(kind, raw)?)
            }
            IdentityKind::ExternalId => opaque(kind, raw)?.to_owned(),
        };
        Ok(Self { kind, value })
    }

    /// Wraps an already normalised value, e.g. one read back from the store.
    pub fn from_normalized(kind: IdentityKind, value: impl Into<String>) -> Self {
        Self {
            kind,
            value: value.into(),
        }
    }

    /// The value without the namespace prefix, as the channel knows it.
    pub fn channel_value(&self) -> &str {
        match self.kind {
            IdentityKind::ChannelUser | IdentityKind::CrmId => {
                self.value.split_once(':').map_or(self.value.as_str(), |(_, v)| v)
            }
            _ => &self.value,
        }
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

fn opaque(kind: IdentityKind, raw: &str) -> Result<&str, IdentityError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(IdentityError::Invalid { kind, reason: "empty" });
    }
    if value.len() > 256 {
        return Err(IdentityError::Invalid {
            kind,
            reason: "longer than 256 bytes",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(IdentityError::Invalid {
            kind,
            reason: "contains control characters",
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_lowercases_only_the_domain() {
        assert_eq!(
            Email::parse("  Ann.Lee+shop@Example.COM ").unwrap().as_str(),
            "Ann.Lee+shop@example.com"
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@exa mple.com",
            "a b@example.com",
            "ann@.com",
            "ann@ex..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phone_needs_international_form() {
        assert_eq!(PhoneE164::parse("+1 (415) 555-0100").unwrap().as_str(), "+14155550100");
        assert_eq!(PhoneE164::parse("0044 20 7946 0958").unwrap().as_str(), "+442079460958");
        for bad in [
            "4155550100",
            "+1",
            "+0123456789",
            "+1 415 555 0100 x12",
            "+1234567890123456",
        ] {
            assert!(PhoneE164::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn channel_ids_are_namespaced() {
        let key = IdentityKey::normalize(IdentityKind::ChannelUser, " 123 ", "telegram").unwrap();
        assert_eq!(key.value, "telegram:123");
        assert_eq!(key.channel_value(), "123");
        assert!(IdentityKey::normalize(IdentityKind::ChannelUser, "a\u{0}b", "x").is_err());
        assert!(IdentityKey::normalize(IdentityKind::ExternalId, "   ", "x").is_err());
    }
}
