//! `/v1/persons`: the people behind conversations, their identity graph,
//! merges, splits, suggestions and timeline.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use omni_core::{AuditEntry, Decision, Page, Person, PersonId, Suggestion, TimelineEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody, json_error, path_error, query_error};

/// An operator's merge of two persons.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The person to merge with the one in the path.
    other_person_id: PersonId,
    /// Why, for the audit log.
    reason: String,
}

/// An operator's split: remove one link of the person.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    /// The link to remove (from the person's `links`).
    link_id: i64,
    /// Why, for the audit log.
    reason: String,
}

/// The persons a split left.
#[derive(Debug, Serialize, ToSchema)]
pub struct SplitResult {
    /// The original person first, then any new ones.
    persons: Vec<PersonId>,
}

/// A decision on a suggestion.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestionDecision {
    /// Why, for the audit log.
    reason: String,
}

/// Paging through a timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
    /// Page size, 1 to 200 (default 100).
    limit: Option<u32>,
}

fn decision(caller: &Caller, reason: String) -> Result<Decision, ApiError> {
    if reason.trim().is_empty() {
        return Err(ApiError::invalid("`reason` is required: it goes into the audit log"));
    }
    Ok(Decision {
        actor: caller.actor(),
        reason,
    })
}

/// A person, with what each integration knows about them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    /// The person.
    #[serde(flatten)]
    person: Person,
    /// Each integration instance's profile (CRM record, orders), by instance id.
    profiles: std::collections::BTreeMap<String, crate::enrichment::ProfileView>,
}

/// Whether to ask integrations.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PersonQuery {
    /// Ask integrations for their profiles (cached for their `lookup_ttl`); default true.
    enrich: Option<bool>,
}

/// A person with identities, links (with provenance), merged-away ids and
/// integrations' profiles. A merged-away id answers with the person it was
/// merged into.
#[utoipa::path(
    get,
    path = "/v1/persons/{id}",
    tag = "persons",
    params(("id" = PersonId, Path, description = "Person id"), PersonQuery),
    responses(
        (status = 200, description = "The person", body = PersonView),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_person(
    State(app): State<AppState>,
    id: Result<Path<PersonId>, PathRejection>,
    query: Result<Query<PersonQuery>, QueryRejection>,
) -> Result<Json<PersonView>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let Query(query) = query.map_err(query_error)?;
    let person = app
        .store
        .person(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("person {id} not found")))?;
    let profiles = if query.enrich.unwrap_or(true) {
        {
            let ttls = app.lookup_ttls.read().unwrap_or_else(|e| e.into_inner()).clone();
            crate::enrichment::profiles(&app.store, app.registry.integrations(), &ttls, &person).await
        }
    } else {
        Default::default()
    };
    Ok(Json(PersonView { person, profiles }))
}

/// Open merge suggestions involving the person.
#[utoipa::path(
    get,
    path = "/v1/persons/{id}/suggestions",
    tag = "persons",
    params(("id" = PersonId, Path, description = "Person id")),
    responses(
        (status = 200, description = "Open suggestions", body = Vec<Suggestion>),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn suggestions(
    State(app): State<AppState>,
    id: Result<Path<PersonId>, PathRejection>,
) -> Result<Json<Vec<Suggestion>>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    Ok(Json(app.store.suggestions(id).await.map_err(ApiError::store)?))
}

/// Merges, splits and refused merges involving the person, newest first.
#[utoipa::path(
    get,
    path = "/v1/persons/{id}/audit",
    tag = "persons",
    params(("id" = PersonId, Path, description = "Person id")),
    responses(
        (status = 200, description = "Audit entries", body = Vec<AuditEntry>),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn audit(
    State(app): State<AppState>,
    id: Result<Path<PersonId>, PathRejection>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    Ok(Json(app.store.audit_log(id).await.map_err(ApiError::store)?))
}

/// The person's 360° timeline: messages on every channel, channel switches,
/// delivery statuses, merges and splits, CSAT answers, status changes.
#[utoipa::path(
    get,
    path = "/v1/persons/{id}/timeline",
    tag = "persons",
    params(("id" = PersonId, Path, description = "Person id"), TimelineQuery),
    responses(
        (status = 200, description = "A page of the timeline, oldest first", body = Page<TimelineEntry>),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn timeline(
    State(app): State<AppState>,
    id: Result<Path<PersonId>, PathRejection>,
    query: Result<Query<TimelineQuery>, QueryRejection>,
) -> Result<Json<Page<TimelineEntry>>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let Query(query) = query.map_err(query_error)?;
    let page = app
        .store
        .timeline(id, query.cursor, query.limit.unwrap_or(100))
        .await
        .map_err(ApiError::store)?;
    Ok(Json(page))
}

/// Merges another person into this one by an operator's decision. Guards
/// still apply: a conflict of unique ids or too many identities is refused.
#[utoipa::path(
    post,
    path = "/v1/persons/{id}/merge",
    tag = "persons",
    params(("id" = PersonId, Path, description = "Person id")),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "The surviving person (the older of the two)", body = Person),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 409, description = "A guard refused the merge; the message says which", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn merge(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<PersonId>, PathRejection>,
    body: Result<Json<MergeRequest>, JsonRejection>,
) -> Result<Json<Person>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let Json(body) = body.map_err(json_error)?;
    let decision = decision(&caller, body.reason)?;
    let person = app
        .store
        .merge_persons(id, body.other_person_id, decision)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(person))
}

/// Removes one of the person's links; if it was trusted, the person splits
/// into what remains connected, and conversations follow their identities.
#[utoipa::path(
    post,
    path = "/v1/persons/{id}/split",
    tag = "persons",
    params(("id" = PersonId, Path, description = "Person id")),
    request_body = SplitRequest,
    responses(
        (status = 200, description = "The persons after the split", body = SplitResult),
        (status = 404, description = "No such person or link", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn split(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<PersonId>, PathRejection>,
    body: Result<Json<SplitRequest>, JsonRejection>,
) -> Result<Json<SplitResult>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let Json(body) = body.map_err(json_error)?;
    let decision = decision(&caller, body.reason)?;
    let person = app
        .store
        .person(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("person {id} not found")))?;
    if !person.links.iter().any(|l| l.id == body.link_id) {
        return Err(ApiError::not_found(format!(
            "person {id} has no active link {}",
            body.link_id
        )));
    }
    let persons = app
        .store
        .remove_link(body.link_id, decision)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(SplitResult { persons }))
}

/// Accepts a suggestion: the two persons are merged (guards apply).
#[utoipa::path(
    post,
    path = "/v1/suggestions/{id}/accept",
    tag = "persons",
    params(("id" = i64, Path, description = "Suggestion id")),
    request_body = SuggestionDecision,
    responses(
        (status = 200, description = "The decided suggestion", body = Suggestion),
        (status = 404, description = "No such suggestion", body = ErrorBody),
        (status = 409, description = "A guard refused the merge", body = ErrorBody),
        (status = 422, description = "Already decided", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn accept_suggestion(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<SuggestionDecision>, JsonRejection>,
) -> Result<Json<Suggestion>, ApiError> {
    decide(app, caller, id, body, true).await
}

/// Dismisses a suggestion: the persons stay apart.
#[utoipa::path(
    post,
    path = "/v1/suggestions/{id}/dismiss",
    tag = "persons",
    params(("id" = i64, Path, description = "Suggestion id")),
    request_body = SuggestionDecision,
    responses(
        (status = 200, description = "The decided suggestion", body = Suggestion),
        (status = 404, description = "No such suggestion", body = ErrorBody),
        (status = 422, description = "Already decided", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn dismiss_suggestion(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<SuggestionDecision>, JsonRejection>,
) -> Result<Json<Suggestion>, ApiError> {
    decide(app, caller, id, body, false).await
}

async fn decide(
    app: AppState,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<SuggestionDecision>, JsonRejection>,
    accept: bool,
) -> Result<Json<Suggestion>, ApiError> {
    let Path(id) = id.map_err(path_error)?;
    let Json(body) = body.map_err(json_error)?;
    let decision = decision(&caller, body.reason)?;
    let suggestion = app
        .store
        .decide_suggestion(id, accept, decision)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(suggestion))
}
