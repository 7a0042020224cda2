//! Identities: the normalised identifiers that tie messages to a person,
//! the guards that keep them from linking the wrong people, and the graph
//! algorithms persons are computed with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod graph;
mod guards;

pub use guards::IdentityGuards;

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
    /// Not a valid phone number.
    #[error("{0:?} is not a valid phone number{1}")]
    InvalidPhone(String, &'static str),
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
    /// Parses a number with libphonenumber's rules: international form
    /// (`+44 20 7946 0958`, `0044...`) always; national form
    /// (`(415) 555-0100`) when a default region is given. Numbers that do not
    /// exist in the numbering plan are refused.
    pub fn parse(raw: &str, default_region: Option<Region>) -> Result<Self, IdentityError> {
        let trimmed = raw.trim();
        // libphonenumber reads "00" as the international prefix only for some regions.
        let text = match trimmed.strip_prefix("00") {
            Some(rest) if default_region.is_none() => format!("+{rest}"),
            _ => trimmed.to_owned(),
        };
        let region = default_region.map(|r| r.0);
        let hint = if region.is_none() && !text.starts_with('+') {
            " (it has no country code and no default region is configured)"
        } else {
            ""
        };
        let number =
            phonenumber::parse(region, &text).map_err(|_| IdentityError::InvalidPhone(raw.to_owned(), hint))?;
        if !phonenumber::is_valid(&number) {
            return Err(IdentityError::InvalidPhone(raw.to_owned(), hint));
        }
        Ok(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// The number as `+<digits>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A country whose national number format is accepted, e.g. `US`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl FromStr for Region {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.to_ascii_uppercase()
            .parse::<phonenumber::country::Id>()
            .map(Region)
            .map_err(|_| format!("{s:?} is not an ISO 3166-1 alpha-2 region code like \"US\" or \"GB\""))
    }
}

/// Normalises raw identifiers the same way everywhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Normalizer {
    /// Region for phone numbers written without a country code.
    pub default_region: Option<Region>,
}

impl Normalizer {
    /// Normalises a raw identifier; `namespace` prefixes channel user ids and
    /// CRM ids (`telegram:123`), so ids from different channels never collide.
    pub fn identity(&self, kind: IdentityKind, raw: &str, namespace: &str) -> Result<IdentityKey, IdentityError> {
        let value = match kind {
            IdentityKind::Email => Email::parse(raw)?.0,
            IdentityKind::Phone => PhoneE164::parse(raw, self.default_region)?.0,
            IdentityKind::ChannelUser | IdentityKind::CrmId => format!("{namespace}:{}", opaque(kind, raw)?),
            IdentityKind::ExternalId => opaque(kind, raw)?.to_owned(),
        };
        Ok(IdentityKey { kind, value })
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
    /// Normalises a raw identifier with default settings (no default phone
    /// region); see [`Normalizer::identity`].
    pub fn normalize(kind: IdentityKind, raw: &str, namespace: &str) -> Result<Self, IdentityError> {
        Normalizer::default().identity(kind, raw, namespace)
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
    fn phones_become_e164() {
        assert_eq!(
            PhoneE164::parse("+1 (415) 555-2671", None).unwrap().as_str(),
            "+14155552671"
        );
        assert_eq!(
            PhoneE164::parse("0044 20 7946 0958", None).unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(
            PhoneE164::parse("+44 (0)20 7946 0958", None).unwrap().as_str(),
            "+442079460958"
        );
        let us: Region = "us".parse().unwrap();
        assert_eq!(
            PhoneE164::parse("(415) 555-2671", Some(us)).unwrap().as_str(),
            "+14155552671"
        );
        let gb: Region = "GB".parse().unwrap();
        assert_eq!(
            PhoneE164::parse("020 7946 0958", Some(gb)).unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn impossible_and_ambiguous_phones_are_refused() {
        let error = PhoneE164::parse("4155552671", None).unwrap_err();
        assert!(error.to_string().contains("no default region"), "{error}");
        for bad in ["+1", "+1 415", "not a phone", "+999 1234 5678", "+1234567890123456"] {
            assert!(PhoneE164::parse(bad, None).is_err(), "{bad:?}");
        }
        assert!("XX".parse::<Region>().is_err());
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
