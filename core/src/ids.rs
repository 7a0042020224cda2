//! Typed ids, so a person id can never be passed where a message id belongs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

uuid_id!(
    /// A person: the connected identities of one human.
    PersonId
);
uuid_id!(
    /// A conversation thread with one person, possibly across channels.
    ConversationId
);
uuid_id!(
    /// One message, inbound or outbound.
    MessageId
);

/// The id an operator gave a connector instance in `omni.toml`, e.g. `webchat`
/// or `sms-us`. Lower-case letters, digits, `-` and `_`, 1 to 63 characters,
/// starting with a letter or digit, so it is safe in URLs and log lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[serde(try_from = "String", into = "String")]
pub struct ConnectorId(String);

/// Why a string is not a valid [`ConnectorId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid connector id {0:?}: use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit"
)]
pub struct InvalidConnectorId(pub String);

impl ConnectorId {
    /// Validates and wraps an id.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidConnectorId> {
        let id = id.into();
        let valid = (1..=63).contains(&id.len())
            && id
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(id))
        } else {
            Err(InvalidConnectorId(id))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ConnectorId {
    type Error = InvalidConnectorId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ConnectorId> for String {
    fn from(value: ConnectorId) -> Self {
        value.0
    }
}

impl FromStr for ConnectorId {
    type Err = InvalidConnectorId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_ids_are_url_safe() {
        assert!(ConnectorId::new("webchat").is_ok());
        assert!(ConnectorId::new("sms-us_2").is_ok());
        for bad in ["", "Web", "-x", "a/b", "a b", &"a".repeat(64)] {
            assert!(ConnectorId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = PersonId::new();
        assert_eq!(id.to_string().parse::<PersonId>().unwrap(), id);
        assert!("nope".parse::<PersonId>().is_err());
    }
}
