//! `/v1/conversations`: threads, their messages, replies and status.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use omni_core::{
    Attachment, ConnectorId, Conversation, ConversationDetail, ConversationId, ConversationQuery, ConversationStatus,
    ConversationUpdate, Message, NewOutbound, Page, PersonId,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody, json_error, path_error, query_error};

/// Longest reply text accepted, in bytes.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Filters for listing conversations.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListConversations {
    /// Only conversations with this status.
    status: Option<ConversationStatus>,
    /// Only this person's conversations.
    person_id: Option<PersonId>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// An agent's reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Text to send.
    text: String,
    /// Connector instance to send through; default: where the person wrote last.
    #[serde(default)]
    connector: Option<String>,
    /// Attachments, by URL.
    #[serde(default)]
    attachments: Vec<Attachment>,
}

/// Lists conversations, most recently active first.
#[utoipa::path(
    get,
    path = "/v1/conversations",
    tag = "conversations",
    params(ListConversations),
    responses(
        (status = 200, description = "A page of conversations", body = Page<Conversation>),
        (status = 400, description = "Bad filter or cursor", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_conversations(
    State(app): State<AppState>,
    query: Result<Query<ListConversations>, QueryRejection>,
) -> Result<Json<Page<Conversation>>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let page = app
        .store
        .conversations(ConversationQuery {
            status: query.status,
            person_id: query.person_id,
            limit: query.limit.unwrap_or(50),
            cursor: query.cursor,
        })
        .await
        .map_err(|e| match e {
            omni_core::StoreError::Invalid(message) => ApiError::invalid(message),
            other => ApiError::store(other),
        })?;
    Ok(Json(page))
}

/// One conversation with its latest messages (up to 1,000), oldest first.
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = ConversationId, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation", body = ConversationDetail),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_conversation(
    State(app): State<AppState>,
    id: Result<Path<ConversationId>, PathRejection>,
) -> Result<Json<ConversationDetail>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let detail = app.store.conversation(id).await.map_err(ApiError::store)?;
    detail
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("conversation {id} not found")))
}

/// Queues an agent's reply; it is delivered through the connector's `send`.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/messages",
    tag = "conversations",
    params(("id" = ConversationId, Path, description = "Conversation id")),
    request_body = NewMessage,
    responses(
        (status = 202, description = "Queued for delivery; status moves to sent, delivered, read or failed", body = Message),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 422, description = "No address to reply to on that connector", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn post_message(
    State(app): State<AppState>,
    id: Result<Path<ConversationId>, PathRejection>,
    body: Result<Json<NewMessage>, JsonRejection>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let Json(body) =
        body.map_err(|rejection| ApiError::new(rejection.status(), "invalid_request", rejection.body_text()))?;
    if body.text.trim().is_empty() && body.attachments.is_empty() {
        return Err(ApiError::invalid("`text` is empty"));
    }
    if body.text.len() > MAX_REPLY_BYTES {
        return Err(ApiError::invalid(format!(
            "`text` is longer than {MAX_REPLY_BYTES} bytes"
        )));
    }
    let connector = match body.connector {
        None => None,
        Some(raw) => {
            let id = ConnectorId::new(raw.clone())
                .ok()
                .filter(|id| app.registry.get(id).is_some());
            Some(id.ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_connector",
                    format!("no connector instance {raw:?} is configured"),
                )
            })?)
        }
    };
    let message = app
        .store
        .enqueue_outbound(NewOutbound {
            conversation_id: id,
            text: body.text,
            attachments: body.attachments,
            connector,
        })
        .await
        .map_err(ApiError::store)?;
    app.telemetry
        .messages(message.connector_id.as_str(), &message.channel, "outbound", 1);
    app.outbox.notify_one();
    app.log.nudge();
    Ok((StatusCode::ACCEPTED, Json(message)))
}

/// Changes a conversation's status (open, pending, resolved), assignee or tags.
#[utoipa::path(
    patch,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = ConversationId, Path, description = "Conversation id")),
    request_body = ConversationUpdate,
    responses(
        (status = 200, description = "The updated conversation", body = Conversation),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 422, description = "Invalid tags", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_conversation(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<ConversationId>, PathRejection>,
    body: Result<Json<ConversationUpdate>, JsonRejection>,
) -> Result<Json<Conversation>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let Json(update) = body.map_err(json_error)?;
    let conversation = app
        .store
        .update_conversation(id, update, &caller.actor())
        .await
        .map_err(ApiError::store)?;
    Ok(Json(conversation))
}
