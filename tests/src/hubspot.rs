//! A local stand-in for HubSpot's CRM API v3, stateful enough for the
//! integration's end-to-end tests: contacts with search, create (409 on a
//! taken email), read, update and merge; notes with search and create; an
//! outage switch. Shapes follow HubSpot's documented requests and answers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

/// A contact as the fake holds it.
#[derive(Debug, Clone)]
pub struct Contact {
    /// Record id.
    pub id: String,
    /// Properties.
    pub properties: Map<String, Value>,
    /// The contact it was merged into.
    pub merged_into: Option<String>,
}

/// A note as the fake holds it.
#[derive(Debug, Clone)]
pub struct Note {
    /// Record id.
    pub id: String,
    /// Properties.
    pub properties: Map<String, Value>,
    /// The contact it is associated with.
    pub contact: Option<String>,
}

#[derive(Default)]
struct Crm {
    contacts: Mutex<Vec<Contact>>,
    notes: Mutex<Vec<Note>>,
    /// Every request as `METHOD path`, in arrival order.
    log: Mutex<Vec<String>>,
    down: AtomicBool,
    next_id: AtomicU64,
}

/// The running fake.
pub struct FakeHubSpot {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    crm: Arc<Crm>,
    server: tokio::task::JoinHandle<()>,
}

type Answer = (StatusCode, Json<Value>);

fn error(status: StatusCode, category: &str, message: &str) -> Answer {
    (
        status,
        Json(
            json!({"status": "error", "message": message, "correlationId": "00000000-0000-0000-0000-000000000000",
                    "category": category}),
        ),
    )
}

fn contact_json(c: &Contact) -> Value {
    json!({"id": c.id, "properties": c.properties, "createdAt": "2026-11-27T10:00:00.000Z",
           "updatedAt": "2026-11-27T10:00:00.000Z", "archived": false})
}

/// The `EQ` filters of a search body, as (property, value).
fn filters(body: &Value) -> Vec<(String, String)> {
    body["filterGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["filters"].as_array().cloned().unwrap_or_default())
        .filter(|f| f["operator"] == "EQ")
        .map(|f| {
            (
                f["propertyName"].as_str().unwrap_or_default().to_owned(),
                f["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

impl FakeHubSpot {
    /// Starts the fake on a free port.
    pub async fn start() -> Self {
        let crm = Arc::new(Crm {
            next_id: AtomicU64::new(501),
            ..Default::default()
        });
        let app = axum::Router::new()
            .route("/crm/v3/objects/contacts/search", post(search_contacts))
            .route("/crm/v3/objects/contacts/merge", post(merge))
            .route("/crm/v3/objects/contacts", post(create_contact))
            .route("/crm/v3/objects/contacts/{id}", get(read_contact).patch(update_contact))
            .route("/crm/v3/objects/notes/search", post(search_notes))
            .route("/crm/v3/objects/notes", post(create_note))
            .route("/crm/v3/owners/{id}", get(owner))
            .layer(axum::middleware::from_fn_with_state(crm.clone(), gate))
            .with_state(crm.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, crm, server }
    }

    /// Makes every request fail with 503 (or work again).
    pub fn set_down(&self, down: bool) {
        self.crm.down.store(down, Ordering::SeqCst);
    }

    /// Contacts not merged into another.
    pub fn contacts(&self) -> Vec<Contact> {
        let all = self.crm.contacts.lock().expect("contacts");
        all.iter().filter(|c| c.merged_into.is_none()).cloned().collect()
    }

    /// Every contact, merged ones included.
    pub fn all_contacts(&self) -> Vec<Contact> {
        self.crm.contacts.lock().expect("contacts").clone()
    }

    /// Every note.
    pub fn notes(&self) -> Vec<Note> {
        self.crm.notes.lock().expect("notes").clone()
    }

    /// Every request as `METHOD path`, in order.
    pub fn log(&self) -> Vec<String> {
        self.crm.log.lock().expect("log").clone()
    }
}

impl Drop for FakeHubSpot {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn gate(
    State(crm): State<Arc<Crm>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let line = format!("{} {}", request.method(), request.uri().path());
    crm.log.lock().expect("log").push(line);
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "Bearer s3cret");
    if crm.down.load(Ordering::SeqCst) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "Service unavailable").into_response();
    }
    if !authorized {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
        )
        .into_response();
    }
    next.run(request).await
}

fn parse(body: &Bytes) -> Result<Value, Answer> {
    serde_json::from_slice(body).map_err(|_| error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Invalid input JSON"))
}

async fn search_contacts(State(crm): State<Arc<Crm>>, body: Bytes) -> Answer {
    let body = match parse(&body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let wanted = filters(&body);
    let contacts = crm.contacts.lock().expect("contacts");
    let results: Vec<Value> = contacts
        .iter()
        .filter(|c| c.merged_into.is_none())
        .filter(|c| {
            wanted
                .iter()
                .all(|(p, v)| c.properties.get(p).and_then(Value::as_str) == Some(v.as_str()))
        })
        .map(contact_json)
        .collect();
    (
        StatusCode::OK,
        Json(json!({"total": results.len(), "results": results})),
    )
}

async fn create_contact(State(crm): State<Arc<Crm>>, body: Bytes) -> Answer {
    let body = match parse(&body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let properties = body["properties"].as_object().cloned().unwrap_or_default();
    let mut contacts = crm.contacts.lock().expect("contacts");
    if let Some(email) = properties.get("email").and_then(Value::as_str)
        && let Some(existing) = contacts
            .iter()
            .find(|c| c.merged_into.is_none() && c.properties.get("email").and_then(Value::as_str) == Some(email))
    {
        let message = format!("Contact already exists. Existing ID: {}", existing.id);
        return error(StatusCode::CONFLICT, "CONFLICT", &message);
    }
    let contact = Contact {
        id: crm.next_id.fetch_add(1, Ordering::SeqCst).to_string(),
        properties,
        merged_into: None,
    };
    contacts.push(contact.clone());
    (StatusCode::CREATED, Json(contact_json(&contact)))
}

async fn read_contact(State(crm): State<Arc<Crm>>, Path(id): Path<String>) -> Answer {
    let contacts = crm.contacts.lock().expect("contacts");
    let mut id = id;
    // A merged-away id answers with the contact it was merged into.
    while let Some(contact) = contacts.iter().find(|c| c.id == id) {
        match &contact.merged_into {
            Some(into) => id = into.clone(),
            None => return (StatusCode::OK, Json(contact_json(contact))),
        }
    }
    error(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "resource not found")
}

async fn update_contact(State(crm): State<Arc<Crm>>, Path(id): Path<String>, body: Bytes) -> Answer {
    let body = match parse(&body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let mut contacts = crm.contacts.lock().expect("contacts");
    let Some(contact) = contacts.iter_mut().find(|c| c.id == id && c.merged_into.is_none()) else {
        return error(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "resource not found");
    };
    for (k, v) in body["properties"].as_object().cloned().unwrap_or_default() {
        contact.properties.insert(k, v);
    }
    (StatusCode::OK, Json(contact_json(contact)))
}

async fn merge(State(crm): State<Arc<Crm>>, body: Bytes) -> Answer {
    let body = match parse(&body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let primary = body["primaryObjectId"].as_str().unwrap_or_default().to_owned();
    let other = body["objectIdToMerge"].as_str().unwrap_or_default().to_owned();
    let mut contacts = crm.contacts.lock().expect("contacts");
    let live = |id: &str, contacts: &[Contact]| contacts.iter().any(|c| c.id == id && c.merged_into.is_none());
    if !live(&primary, &contacts) || !live(&other, &contacts) || primary == other {
        return error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            &format!("Object {other} was already merged or does not exist"),
        );
    }
    if let Some(contact) = contacts.iter_mut().find(|c| c.id == other) {
        contact.merged_into = Some(primary.clone());
    }
    let survivor = contacts
        .iter()
        .find(|c| c.id == primary)
        .map(contact_json)
        .unwrap_or_default();
    (StatusCode::OK, Json(survivor))
}

async fn search_notes(State(crm): State<Arc<Crm>>, body: Bytes) -> Answer {
    let body = match parse(&body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let wanted = filters(&body);
    let notes = crm.notes.lock().expect("notes");
    let results: Vec<Value> = notes
        .iter()
        .filter(|n| {
            wanted
                .iter()
                .all(|(p, v)| n.properties.get(p).and_then(Value::as_str) == Some(v.as_str()))
        })
        .map(|n| json!({"id": n.id, "properties": n.properties}))
        .collect();
    (
        StatusCode::OK,
        Json(json!({"total": results.len(), "results": results})),
    )
}

async fn create_note(State(crm): State<Arc<Crm>>, body: Bytes) -> Answer {
    let body = match parse(&body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let note = Note {
        id: crm.next_id.fetch_add(1, Ordering::SeqCst).to_string(),
        properties: body["properties"].as_object().cloned().unwrap_or_default(),
        contact: body["associations"][0]["to"]["id"].as_str().map(str::to_owned),
    };
    crm.notes.lock().expect("notes").push(note.clone());
    (
        StatusCode::CREATED,
        Json(json!({"id": note.id, "properties": note.properties})),
    )
}

async fn owner(Path(_id): Path<String>) -> Answer {
    error(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "resource not found")
}
