//! Decoding rows into the domain model, without ever panicking on bad data.

use std::str::FromStr;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::StoreError;
use crate::{
    ConnectorId, Conversation, ConversationStatus, Direction, IdentityKind, Message, MessageKind, MessageStatus,
    Timestamp,
};

/// Reads a column.
pub fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    Ok(row.try_get::<T, _>(column)?)
}

/// Reads a millisecond time column.
pub fn time(row: &AnyRow, column: &str) -> Result<Timestamp, StoreError> {
    get::<i64>(row, column).map(Timestamp::from_millis)
}

/// Reads a nullable millisecond time column.
pub fn opt_time(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_millis))
}

/// Reads a 0/1 flag.
pub fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    Ok(get::<i64>(row, column)? != 0)
}

/// Parses a stored id.
pub fn id<T: FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("id {text:?}")))
}

/// Reads an id column.
pub fn id_col<T: FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    id(&get::<String>(row, column)?)
}

/// Reads a nullable id column.
pub fn opt_id_col<T: FromStr>(row: &AnyRow, column: &str) -> Result<Option<T>, StoreError> {
    get::<Option<String>>(row, column)?.map(|text| id(&text)).transpose()
}

/// Parses a stored connector id.
pub fn connector(text: &str) -> Result<ConnectorId, StoreError> {
    ConnectorId::new(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Parses a stored identity kind.
pub fn kind(text: &str) -> Result<IdentityKind, StoreError> {
    IdentityKind::parse(text).ok_or_else(|| StoreError::Corrupt(format!("identity kind {text:?}")))
}

/// Parses a stored message status.
pub fn status(text: &str) -> Result<MessageStatus, StoreError> {
    MessageStatus::parse(text).ok_or_else(|| StoreError::Corrupt(format!("message status {text:?}")))
}

/// Parses stored JSON.
pub fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}

/// `$start, $start+1, ...` for `count` parameters.
pub fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns [`conversation`] reads.
pub const CONVERSATION_COLUMNS: &str = "id, workspace, person_id, status, channel, connector_id, assignee, tags, \
     created_at, updated_at, last_message_at, first_response_at, resolved_at, reopen_count";

/// A conversation row.
pub fn conversation(row: &AnyRow) -> Result<Conversation, StoreError> {
    let status: String = get(row, "status")?;
    Ok(Conversation {
        id: id_col(row, "id")?,
        workspace: get(row, "workspace")?,
        person_id: id_col(row, "person_id")?,
        status: ConversationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation status {status:?}")))?,
        channel: get(row, "channel")?,
        connector_id: connector(&get::<String>(row, "connector_id")?)?,
        assignee: get(row, "assignee")?,
        tags: json(&get::<String>(row, "tags")?)?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        last_message_at: time(row, "last_message_at")?,
        first_response_at: opt_time(row, "first_response_at")?,
        resolved_at: opt_time(row, "resolved_at")?,
        reopen_count: get(row, "reopen_count")?,
    })
}

/// The columns [`message`] reads.
pub const MESSAGE_COLUMNS: &str = "id, conversation_id, person_id, connector_id, channel, direction, kind, text, \
     attachments, metadata, external_id, status, error, sent_at, created_at, status_at";

/// A message row.
pub fn message(row: &AnyRow) -> Result<Message, StoreError> {
    let direction = match get::<String>(row, "direction")?.as_str() {
        "inbound" => Direction::Inbound,
        "outbound" => Direction::Outbound,
        other => return Err(StoreError::Corrupt(format!("message direction {other:?}"))),
    };
    let kind = match get::<String>(row, "kind")?.as_str() {
        "text" => MessageKind::Text,
        "call" => MessageKind::Call,
        other => return Err(StoreError::Corrupt(format!("message kind {other:?}"))),
    };
    Ok(Message {
        id: id_col(row, "id")?,
        conversation_id: id_col(row, "conversation_id")?,
        person_id: id_col(row, "person_id")?,
        connector_id: connector(&get::<String>(row, "connector_id")?)?,
        channel: get(row, "channel")?,
        direction,
        kind,
        text: get(row, "text")?,
        attachments: json(&get::<String>(row, "attachments")?)?,
        metadata: json(&get::<String>(row, "metadata")?)?,
        external_id: get(row, "external_id")?,
        status: status(&get::<String>(row, "status")?)?,
        error: get(row, "error")?,
        sent_at: opt_time(row, "sent_at")?,
        created_at: time(row, "created_at")?,
        status_at: time(row, "status_at")?,
    })
}
