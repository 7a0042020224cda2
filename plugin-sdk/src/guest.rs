//! The wasm glue: wit-bindgen bindings of the `channel` world and the
//! conversions between them and this crate's types. Plugin authors never see
//! this module; [`crate::export_channel!`] wires their type to it.

use std::marker::PhantomData;

use crate::integration::{
    DomainEvent, EventOutcome, Integration, IntegrationError, MessageDirection, Order, Person, Profile, TranscriptLine,
};
use crate::{
    Activity, ActivityKind, Attachment, CallDirection, CallRecord, Capabilities, Channel, ChannelKind, ContactProfile,
    CsatAnswer, DeliveryState, DeliveryStatus, Event, Header, Host, HostApi, HttpError, Identity, IdentityKind,
    InboundMessage, IncomingResponse, IntegrationEvent, KvError, LogLevel, Manifest, OutboundMessage, OutgoingRequest,
    PluginError, PollBatch, Request, Response, SendError, WebhookOutcome,
};

/// Raw bindings generated from `wit/`.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "channel",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_channel_world",
        default_bindings_module: "omni_plugin_sdk::__private::bindings",
        runtime_path: "omni_plugin_sdk::__private::wit_bindgen::rt",
    });
}

/// Raw bindings of the `crm` world; its types are the `channel` world's.
#[allow(missing_docs, clippy::all)]
pub mod crm_bindings {
    wit_bindgen::generate!({
        world: "crm",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_crm_world",
        default_bindings_module: "omni_plugin_sdk::__private::crm_bindings",
        runtime_path: "omni_plugin_sdk::__private::wit_bindgen::rt",
        with: {
            "omni:plugin/types@0.1.1": omni_plugin_sdk::__private::bindings::omni::plugin::types,
            "omni:plugin/host@0.1.1": omni_plugin_sdk::__private::bindings::omni::plugin::host,
        },
    });
}

use bindings::omni::plugin::host as wit_host;
use bindings::omni::plugin::types as wit;

/// Implements the generated `Guest` trait for any [`Channel`].
pub struct Adapter<T>(PhantomData<T>);

/// The [`HostApi`] backed by the component's imports.
struct WasmHost;

impl HostApi for WasmHost {
    fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Trace => wit::LogLevel::Trace,
            LogLevel::Debug => wit::LogLevel::Debug,
            LogLevel::Info => wit::LogLevel::Info,
            LogLevel::Warn => wit::LogLevel::Warn,
            LogLevel::Error => wit::LogLevel::Error,
        };
        wit_host::log(level, message);
    }

    fn config_get(&self, key: &str) -> Option<String> {
        wit_host::config_get(key)
    }

    fn instance_id(&self) -> String {
        wit_host::instance_id()
    }

    fn secret_get(&self, name: &str) -> Option<String> {
        wit_host::secret_get(name)
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        wit_host::kv_get(key).map_err(kv_error)
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        wit_host::kv_set(key, value).map_err(kv_error)
    }

    fn kv_delete(&self, key: &str) -> Result<(), KvError> {
        wit_host::kv_delete(key).map_err(kv_error)
    }

    fn http_send(&self, request: &OutgoingRequest) -> Result<IncomingResponse, HttpError> {
        let request = wit::OutgoingRequest {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request
                .headers
                .iter()
                .map(|h| wit::Header {
                    name: h.name.clone(),
                    value: h.value.clone(),
                })
                .collect(),
            body: request.body.clone(),
        };
        match wit_host::http_send(&request) {
            Ok(response) => Ok(IncomingResponse {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|h| Header {
                        name: h.name,
                        value: h.value,
                    })
                    .collect(),
                body: response.body,
            }),
            Err(wit::HttpError::Denied(m)) => Err(HttpError::Denied(m)),
            Err(wit::HttpError::Timeout(m)) => Err(HttpError::Timeout(m)),
            Err(wit::HttpError::Unreachable(m)) => Err(HttpError::Unreachable(m)),
            Err(wit::HttpError::TooLarge(m)) => Err(HttpError::TooLarge(m)),
            Err(wit::HttpError::Invalid(m)) => Err(HttpError::Invalid(m)),
        }
    }
}

fn kv_error(error: wit::KvError) -> KvError {
    match error {
        wit::KvError::Denied(m) => KvError::Denied(m),
        wit::KvError::TooLarge(m) => KvError::TooLarge(m),
        wit::KvError::QuotaExceeded(m) => KvError::QuotaExceeded(m),
        wit::KvError::Unavailable(m) => KvError::Unavailable(m),
    }
}

impl<T: Channel> bindings::exports::omni::plugin::connector::Guest for Adapter<T> {
    fn manifest() -> wit::PluginManifest {
        manifest_to_wit(T::manifest())
    }

    fn handle_webhook(request: wit::HttpRequest) -> Result<wit::WebhookOutcome, wit::PluginError> {
        let host = Host::new(&WasmHost);
        T::handle_webhook(&host, request_from_wit(request))
            .map(outcome_to_wit)
            .map_err(plugin_error_to_wit)
    }

    fn send(message: wit::OutboundMessage, recipient: wit::Identity) -> Result<wit::SendReceipt, wit::SendError> {
        let host = Host::new(&WasmHost);
        let message = OutboundMessage {
            id: message.id,
            conversation_id: message.conversation_id,
            text: message.text,
            attachments: message.attachments.into_iter().map(attachment_from_wit).collect(),
            reply_to: message.reply_to,
            thread_id: message.thread_id,
        };
        match T::send(&host, message, identity_from_wit(recipient)) {
            Ok(receipt) => Ok(wit::SendReceipt {
                external_id: receipt.external_id,
                state: state_to_wit(receipt.state),
            }),
            Err(SendError::Retryable { message, after_ms }) => {
                Err(wit::SendError::Retryable(wit::RetryLater { message, after_ms }))
            }
            Err(SendError::Permanent { message }) => Err(wit::SendError::Permanent(message)),
        }
    }

    fn poll(cursor: Option<String>) -> Result<wit::PollBatch, wit::PluginError> {
        let host = Host::new(&WasmHost);
        T::poll(&host, cursor)
            .map(|batch: PollBatch| wit::PollBatch {
                events: batch.events.into_iter().map(event_to_wit).collect(),
                cursor: batch.cursor,
            })
            .map_err(plugin_error_to_wit)
    }
}

/// Implements the generated `Guest` trait of the `crm` world for any [`Integration`].
pub struct IntegrationAdapter<T>(PhantomData<T>);

impl<T: Integration> crm_bindings::exports::omni::plugin::integration::Guest for IntegrationAdapter<T> {
    fn manifest() -> wit::PluginManifest {
        manifest_to_wit(T::manifest())
    }

    fn on_event(event: wit::DomainEvent) -> Result<wit::EventOutcome, wit::IntegrationError> {
        let host = Host::new(&WasmHost);
        let event = DomainEvent {
            position: event.position,
            kind: event.kind,
            at: event.at,
            person: event.person.map(person_from_wit),
            conversation_id: event.conversation_id,
            message_id: event.message_id,
            data: serde_json::from_str(&event.data).unwrap_or(serde_json::Value::Null),
            transcript: event
                .transcript
                .into_iter()
                .map(|line| TranscriptLine {
                    direction: match line.direction {
                        wit::MessageDirection::Inbound => MessageDirection::Inbound,
                        wit::MessageDirection::Outbound => MessageDirection::Outbound,
                    },
                    channel: line.channel,
                    text: line.text,
                    at: line.at,
                })
                .collect(),
        };
        T::on_event(&host, event)
            .map(|EventOutcome { records }| wit::EventOutcome { records })
            .map_err(integration_error_to_wit)
    }

    fn lookup(person: wit::Person) -> Result<Option<wit::Profile>, wit::IntegrationError> {
        let host = Host::new(&WasmHost);
        T::lookup(&host, person_from_wit(person))
            .map(|profile| profile.map(profile_to_wit))
            .map_err(integration_error_to_wit)
    }

    fn handle_webhook(request: wit::HttpRequest) -> Result<wit::WebhookOutcome, wit::PluginError> {
        let host = Host::new(&WasmHost);
        T::handle_webhook(&host, request_from_wit(request))
            .map(outcome_to_wit)
            .map_err(plugin_error_to_wit)
    }
}

fn person_from_wit(p: wit::Person) -> Person {
    Person {
        id: p.id,
        display_name: p.display_name,
        identities: p.identities.into_iter().map(identity_from_wit).collect(),
        records: p.records,
    }
}

fn profile_to_wit(p: Profile) -> wit::Profile {
    wit::Profile {
        record_id: p.record_id,
        name: p.name,
        company: p.company,
        owner: p.owner,
        lifecycle_stage: p.lifecycle_stage,
        url: p.url,
        orders: p
            .orders
            .into_iter()
            .map(|o: Order| wit::Order {
                id: o.id,
                name: o.name,
                status: o.status,
                financial_status: o.financial_status,
                fulfillment_status: o.fulfillment_status,
                total: o.total,
                currency: o.currency,
                created_at: o.created_at,
                url: o.url,
            })
            .collect(),
        attributes: p.attributes,
    }
}

fn integration_error_to_wit(e: IntegrationError) -> wit::IntegrationError {
    match e {
        IntegrationError::Retryable { message, after_ms } => {
            wit::IntegrationError::Retryable(wit::RetryLater { message, after_ms })
        }
        IntegrationError::Permanent { message } => wit::IntegrationError::Permanent(message),
    }
}

fn manifest_to_wit(m: Manifest) -> wit::PluginManifest {
    let Capabilities {
        secrets,
        kv,
        outbound_hosts,
        poll_interval_ms,
    } = m.capabilities;
    wit::PluginManifest {
        id: m.id,
        name: m.name,
        version: m.version,
        description: m.description,
        kind: match m.kind {
            ChannelKind::Webchat => wit::ChannelKind::Webchat,
            ChannelKind::Email => wit::ChannelKind::Email,
            ChannelKind::Sms => wit::ChannelKind::Sms,
            ChannelKind::Whatsapp => wit::ChannelKind::Whatsapp,
            ChannelKind::Telegram => wit::ChannelKind::Telegram,
            ChannelKind::Messenger => wit::ChannelKind::Messenger,
            ChannelKind::Instagram => wit::ChannelKind::Instagram,
            ChannelKind::Voice => wit::ChannelKind::Voice,
            ChannelKind::Video => wit::ChannelKind::Video,
            ChannelKind::Other => wit::ChannelKind::Other,
        },
        capabilities: wit::Capabilities {
            secrets,
            kv,
            outbound_hosts,
            poll_interval_ms,
        },
        config_schema: m.config_schema,
    }
}

fn request_from_wit(r: wit::HttpRequest) -> Request {
    Request {
        method: r.method,
        path: r.path,
        query: r.query,
        headers: r
            .headers
            .into_iter()
            .map(|h| Header {
                name: h.name,
                value: h.value,
            })
            .collect(),
        body: r.body,
    }
}

fn response_to_wit(r: Response) -> wit::HttpResponse {
    wit::HttpResponse {
        status: r.status,
        headers: r
            .headers
            .into_iter()
            .map(|h| wit::Header {
                name: h.name,
                value: h.value,
            })
            .collect(),
        body: r.body,
    }
}

fn outcome_to_wit(o: WebhookOutcome) -> wit::WebhookOutcome {
    wit::WebhookOutcome {
        response: response_to_wit(o.response),
        events: o.events.into_iter().map(event_to_wit).collect(),
    }
}

fn plugin_error_to_wit(e: PluginError) -> wit::PluginError {
    match e {
        PluginError::BadRequest(m) => wit::PluginError::BadRequest(m),
        PluginError::Unauthorized(m) => wit::PluginError::Unauthorized(m),
        PluginError::Forbidden(m) => wit::PluginError::Forbidden(m),
        PluginError::NotFound(m) => wit::PluginError::NotFound(m),
        PluginError::Unsupported(m) => wit::PluginError::Unsupported(m),
        PluginError::UnsupportedMediaType(m) => wit::PluginError::UnsupportedMediaType(m),
        PluginError::Internal(m) => wit::PluginError::Internal(m),
    }
}

fn identity_kind_to_wit(kind: IdentityKind) -> wit::IdentityKind {
    match kind {
        IdentityKind::Email => wit::IdentityKind::Email,
        IdentityKind::Phone => wit::IdentityKind::Phone,
        IdentityKind::ChannelUser => wit::IdentityKind::ChannelUser,
        IdentityKind::CrmId => wit::IdentityKind::CrmId,
        IdentityKind::ExternalId => wit::IdentityKind::ExternalId,
    }
}

fn identity_to_wit(i: Identity) -> wit::Identity {
    wit::Identity {
        kind: identity_kind_to_wit(i.kind),
        value: i.value,
        verified: i.verified,
    }
}

fn identity_from_wit(i: wit::Identity) -> Identity {
    let kind = match i.kind {
        wit::IdentityKind::Email => IdentityKind::Email,
        wit::IdentityKind::Phone => IdentityKind::Phone,
        wit::IdentityKind::ChannelUser => IdentityKind::ChannelUser,
        wit::IdentityKind::CrmId => IdentityKind::CrmId,
        wit::IdentityKind::ExternalId => IdentityKind::ExternalId,
    };
    Identity {
        kind,
        value: i.value,
        verified: i.verified,
    }
}

fn identities_to_wit(list: Vec<Identity>) -> Vec<wit::Identity> {
    list.into_iter().map(identity_to_wit).collect()
}

fn attachment_to_wit(a: Attachment) -> wit::Attachment {
    wit::Attachment {
        name: a.name,
        content_type: a.content_type,
        size: a.size,
        url: a.url,
    }
}

fn attachment_from_wit(a: wit::Attachment) -> Attachment {
    Attachment {
        name: a.name,
        content_type: a.content_type,
        size: a.size,
        url: a.url,
    }
}

fn state_to_wit(state: DeliveryState) -> wit::DeliveryState {
    match state {
        DeliveryState::Sent => wit::DeliveryState::Sent,
        DeliveryState::Delivered => wit::DeliveryState::Delivered,
        DeliveryState::Read => wit::DeliveryState::Read,
        DeliveryState::Failed => wit::DeliveryState::Failed,
    }
}

fn event_to_wit(e: Event) -> wit::Event {
    match e {
        Event::MessageReceived(InboundMessage {
            external_id,
            sender,
            claims,
            display_name,
            text,
            attachments,
            thread_id,
            reply_to,
            references,
            sent_at,
        }) => wit::Event::MessageReceived(wit::InboundMessage {
            external_id,
            sender: identity_to_wit(sender),
            claims: identities_to_wit(claims),
            display_name,
            text,
            attachments: attachments.into_iter().map(attachment_to_wit).collect(),
            thread_id,
            reply_to,
            references,
            sent_at,
        }),
        Event::DeliveryStatus(DeliveryStatus {
            external_id,
            state,
            error,
            at,
        }) => wit::Event::DeliveryStatus(wit::DeliveryStatus {
            external_id,
            state: state_to_wit(state),
            error,
            at,
        }),
        Event::ContactProfile(ContactProfile {
            subject,
            display_name,
            claims,
        }) => wit::Event::ContactProfile(wit::ContactProfile {
            subject: identity_to_wit(subject),
            display_name,
            claims: identities_to_wit(claims),
        }),
        Event::Activity(Activity { subject, kind }) => wit::Event::Activity(wit::Activity {
            subject: identity_to_wit(subject),
            kind: match kind {
                ActivityKind::Typing => wit::ActivityKind::Typing,
                ActivityKind::Seen => wit::ActivityKind::Seen,
            },
        }),
        Event::CallRecord(CallRecord {
            external_id,
            party,
            direction,
            status,
            started_at,
            duration_ms,
            recording_url,
            transcript,
        }) => wit::Event::CallRecord(wit::CallRecord {
            external_id,
            party: identity_to_wit(party),
            direction: match direction {
                CallDirection::Inbound => wit::CallDirection::Inbound,
                CallDirection::Outbound => wit::CallDirection::Outbound,
            },
            status,
            started_at,
            duration_ms,
            recording_url,
            transcript,
        }),
        Event::Csat(CsatAnswer {
            external_id,
            subject,
            score,
            scale,
            comment,
            at,
        }) => wit::Event::Csat(wit::CsatAnswer {
            external_id,
            subject: identity_to_wit(subject),
            score,
            scale,
            comment,
            at,
        }),
        Event::Integration(IntegrationEvent {
            external_id,
            subject,
            claims,
            kind,
            summary,
            data,
            at,
        }) => wit::Event::Integration(wit::IntegrationEvent {
            external_id,
            subject: identity_to_wit(subject),
            claims: identities_to_wit(claims),
            kind,
            summary,
            data: data.to_string(),
            at,
        }),
    }
}
