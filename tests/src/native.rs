//! A plugin crate compiled natively, behind the same [`Connector`] trait as
//! the sandboxed component: the benchmark's baseline for what the sandbox
//! costs. It runs the identical plugin code and goes through the identical
//! host path (event normalisation, store transaction, key-value session);
//! only the WebAssembly boundary is missing.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use omni_core::{ConnectorId, Store};
use omni_host::connector::{CallOutput, Connector};
use omni_host::runtime::bindings::wit;
use omni_host::runtime::{CallError, KvFailure, KvSession, Limits, Manifest};
use omni_plugin_sdk as sdk;

/// A natively compiled plugin type as a connector instance.
pub struct NativeConnector<T> {
    id: ConnectorId,
    manifest: Manifest,
    limits: Limits,
    store: Option<Arc<dyn Store>>,
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    _plugin: PhantomData<fn() -> T>,
}

impl<T: sdk::Channel> NativeConnector<T> {
    /// An instance with the given config values (as JSON) and secrets.
    pub fn new(
        id: &str,
        store: Option<Arc<dyn Store>>,
        config: serde_json::Map<String, serde_json::Value>,
        secrets: BTreeMap<String, String>,
    ) -> Self {
        let manifest = Manifest::from_wit(manifest_to_wit(T::manifest())).expect("the plugin's manifest is valid");
        let store = if manifest.kv { store } else { None };
        Self {
            id: ConnectorId::new(id).expect("valid connector id"),
            manifest,
            limits: Limits::default(),
            store,
            config: config.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
            secrets,
            _plugin: PhantomData,
        }
    }

    fn host(&self) -> NativeHost<'_> {
        NativeHost {
            connector: self,
            kv: RefCell::new(KvSession::new(self.store.clone(), self.id.clone())),
        }
    }
}

/// The SDK's host functions over the host's own key-value session.
struct NativeHost<'a> {
    connector: &'a (dyn ConnectorConfig + 'a),
    kv: RefCell<KvSession>,
}

trait ConnectorConfig {
    fn config(&self) -> &BTreeMap<String, String>;
    fn secret(&self, name: &str) -> Option<String>;
}

impl<T> ConnectorConfig for NativeConnector<T> {
    fn config(&self) -> &BTreeMap<String, String> {
        &self.config
    }

    fn secret(&self, name: &str) -> Option<String> {
        if self.manifest.secrets.iter().any(|s| s == name) {
            self.secrets.get(name).cloned()
        } else {
            None
        }
    }
}

impl NativeHost<'_> {
    fn kv_result<R>(result: Result<R, KvFailure>) -> Result<R, sdk::KvError> {
        result.map_err(|failure| match failure {
            KvFailure::Denied(m) => sdk::KvError::Denied(m),
            KvFailure::TooLarge(m) => sdk::KvError::TooLarge(m),
            KvFailure::QuotaExceeded(m) => sdk::KvError::QuotaExceeded(m),
            KvFailure::Unavailable(m) => sdk::KvError::Unavailable(m),
        })
    }

    fn into_kv(self) -> Result<omni_core::KvChanges, CallError> {
        let session = self.kv.into_inner();
        if let Some(failure) = &session.store_failure {
            return Err(CallError::Store(failure.clone()));
        }
        Ok(session.into_changes())
    }
}

impl sdk::HostApi for NativeHost<'_> {
    fn log(&self, _level: sdk::LogLevel, message: &str) {
        tracing::debug!(target: "omni::plugin", "{message}");
    }

    fn config_get(&self, key: &str) -> Option<String> {
        self.connector.config().get(key).cloned()
    }

    fn secret_get(&self, name: &str) -> Option<String> {
        self.connector.secret(name)
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, sdk::KvError> {
        // The plugin API is synchronous; the store is not.
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::block_in_place(|| handle.block_on(self.kv.borrow_mut().get(key)));
        Self::kv_result(result)
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), sdk::KvError> {
        Self::kv_result(self.kv.borrow_mut().set(key, value.to_vec()))
    }

    fn kv_delete(&self, key: &str) -> Result<(), sdk::KvError> {
        Self::kv_result(self.kv.borrow_mut().delete(key))
    }

    fn http_send(&self, _request: &sdk::OutgoingRequest) -> Result<sdk::IncomingResponse, sdk::HttpError> {
        // The benchmarks' connectors do not call providers.
        Err(sdk::HttpError::Denied(
            "the native adapter makes no outbound requests".into(),
        ))
    }
}

#[async_trait]
impl<T: sdk::Channel + 'static> Connector for NativeConnector<T> {
    fn id(&self) -> &ConnectorId {
        &self.id
    }

    fn workspace(&self) -> &str {
        omni_core::DEFAULT_WORKSPACE
    }

    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    async fn handle_webhook(
        &self,
        request: wit::HttpRequest,
    ) -> Result<CallOutput<Result<wit::WebhookOutcome, wit::PluginError>>, CallError> {
        let host = self.host();
        let value = T::handle_webhook(&sdk::Host::new(&host), request_from_wit(request))
            .map(outcome_to_wit)
            .map_err(plugin_error_to_wit);
        Ok(CallOutput {
            value,
            kv: host.into_kv()?,
            usage: Default::default(),
        })
    }

    async fn send(
        &self,
        message: wit::OutboundMessage,
        recipient: wit::Identity,
    ) -> Result<CallOutput<Result<wit::SendReceipt, wit::SendError>>, CallError> {
        let host = self.host();
        let message = sdk::OutboundMessage {
            id: message.id,
            conversation_id: message.conversation_id,
            text: message.text,
            attachments: Vec::new(),
            reply_to: message.reply_to,
            thread_id: message.thread_id,
        };
        let recipient = sdk::Identity {
            kind: identity_kind_from_wit(recipient.kind),
            value: recipient.value,
            verified: recipient.verified,
        };
        let value = match T::send(&sdk::Host::new(&host), message, recipient) {
            Ok(receipt) => Ok(wit::SendReceipt {
                external_id: receipt.external_id,
                state: state_to_wit(receipt.state),
            }),
            Err(sdk::SendError::Retryable { message, after_ms }) => {
                Err(wit::SendError::Retryable(wit::RetryLater { message, after_ms }))
            }
            Err(sdk::SendError::Permanent { message }) => Err(wit::SendError::Permanent(message)),
        };
        Ok(CallOutput {
            value,
            kv: host.into_kv()?,
            usage: Default::default(),
        })
    }
}

/// The SDK's manifest as the host's WIT type.
pub fn manifest_to_wit(m: sdk::Manifest) -> wit::PluginManifest {
    wit::PluginManifest {
        id: m.id,
        name: m.name,
        version: m.version,
        description: m.description,
        kind: match m.kind {
            sdk::ChannelKind::Webchat => wit::ChannelKind::Webchat,
            sdk::ChannelKind::Email => wit::ChannelKind::Email,
            sdk::ChannelKind::Sms => wit::ChannelKind::Sms,
            sdk::ChannelKind::Whatsapp => wit::ChannelKind::Whatsapp,
            sdk::ChannelKind::Telegram => wit::ChannelKind::Telegram,
            sdk::ChannelKind::Messenger => wit::ChannelKind::Messenger,
            sdk::ChannelKind::Instagram => wit::ChannelKind::Instagram,
            sdk::ChannelKind::Voice => wit::ChannelKind::Voice,
            sdk::ChannelKind::Video => wit::ChannelKind::Video,
            sdk::ChannelKind::Other => wit::ChannelKind::Other,
        },
        capabilities: wit::Capabilities {
            secrets: m.capabilities.secrets,
            kv: m.capabilities.kv,
            outbound_hosts: m.capabilities.outbound_hosts,
            poll_interval_ms: m.capabilities.poll_interval_ms,
        },
        config_schema: m.config_schema,
    }
}

/// A host request as the SDK's type.
pub fn request_from_wit(r: wit::HttpRequest) -> sdk::Request {
    sdk::Request {
        method: r.method,
        path: r.path,
        query: r.query,
        headers: r
            .headers
            .into_iter()
            .map(|h| sdk::Header {
                name: h.name,
                value: h.value,
            })
            .collect(),
        body: r.body,
    }
}

fn outcome_to_wit(o: sdk::WebhookOutcome) -> wit::WebhookOutcome {
    wit::WebhookOutcome {
        response: wit::HttpResponse {
            status: o.response.status,
            headers: o
                .response
                .headers
                .into_iter()
                .map(|h| wit::Header {
                    name: h.name,
                    value: h.value,
                })
                .collect(),
            body: o.response.body,
        },
        events: o.events.into_iter().map(event_to_wit).collect(),
    }
}

fn plugin_error_to_wit(e: sdk::PluginError) -> wit::PluginError {
    match e {
        sdk::PluginError::BadRequest(m) => wit::PluginError::BadRequest(m),
        sdk::PluginError::Unauthorized(m) => wit::PluginError::Unauthorized(m),
        sdk::PluginError::Forbidden(m) => wit::PluginError::Forbidden(m),
        sdk::PluginError::NotFound(m) => wit::PluginError::NotFound(m),
        sdk::PluginError::Unsupported(m) => wit::PluginError::Unsupported(m),
        sdk::PluginError::UnsupportedMediaType(m) => wit::PluginError::UnsupportedMediaType(m),
        sdk::PluginError::Internal(m) => wit::PluginError::Internal(m),
    }
}

fn identity_kind_from_wit(kind: wit::IdentityKind) -> sdk::IdentityKind {
    match kind {
        wit::IdentityKind::Email => sdk::IdentityKind::Email,
        wit::IdentityKind::Phone => sdk::IdentityKind::Phone,
        wit::IdentityKind::ChannelUser => sdk::IdentityKind::ChannelUser,
        wit::IdentityKind::CrmId => sdk::IdentityKind::CrmId,
        wit::IdentityKind::ExternalId => sdk::IdentityKind::ExternalId,
    }
}

fn identity_to_wit(i: sdk::Identity) -> wit::Identity {
    wit::Identity {
        kind: match i.kind {
            sdk::IdentityKind::Email => wit::IdentityKind::Email,
            sdk::IdentityKind::Phone => wit::IdentityKind::Phone,
            sdk::IdentityKind::ChannelUser => wit::IdentityKind::ChannelUser,
            sdk::IdentityKind::CrmId => wit::IdentityKind::CrmId,
            sdk::IdentityKind::ExternalId => wit::IdentityKind::ExternalId,
        },
        value: i.value,
        verified: i.verified,
    }
}

fn state_to_wit(state: sdk::DeliveryState) -> wit::DeliveryState {
    match state {
        sdk::DeliveryState::Sent => wit::DeliveryState::Sent,
        sdk::DeliveryState::Delivered => wit::DeliveryState::Delivered,
        sdk::DeliveryState::Read => wit::DeliveryState::Read,
        sdk::DeliveryState::Failed => wit::DeliveryState::Failed,
    }
}

fn attachment_to_wit(a: sdk::Attachment) -> wit::Attachment {
    wit::Attachment {
        name: a.name,
        content_type: a.content_type,
        size: a.size,
        url: a.url,
    }
}

fn event_to_wit(e: sdk::Event) -> wit::Event {
    match e {
        sdk::Event::MessageReceived(m) => wit::Event::MessageReceived(wit::InboundMessage {
            external_id: m.external_id,
            sender: identity_to_wit(m.sender),
            claims: m.claims.into_iter().map(identity_to_wit).collect(),
            display_name: m.display_name,
            text: m.text,
            attachments: m.attachments.into_iter().map(attachment_to_wit).collect(),
            thread_id: m.thread_id,
            reply_to: m.reply_to,
            references: m.references,
            sent_at: m.sent_at,
        }),
        sdk::Event::DeliveryStatus(s) => wit::Event::DeliveryStatus(wit::DeliveryStatus {
            external_id: s.external_id,
            state: state_to_wit(s.state),
            error: s.error,
            at: s.at,
        }),
        sdk::Event::ContactProfile(p) => wit::Event::ContactProfile(wit::ContactProfile {
            subject: identity_to_wit(p.subject),
            display_name: p.display_name,
            claims: p.claims.into_iter().map(identity_to_wit).collect(),
        }),
        sdk::Event::Activity(a) => wit::Event::Activity(wit::Activity {
            subject: identity_to_wit(a.subject),
            kind: match a.kind {
                sdk::ActivityKind::Typing => wit::ActivityKind::Typing,
                sdk::ActivityKind::Seen => wit::ActivityKind::Seen,
            },
        }),
        sdk::Event::CallRecord(c) => wit::Event::CallRecord(wit::CallRecord {
            external_id: c.external_id,
            party: identity_to_wit(c.party),
            direction: match c.direction {
                sdk::CallDirection::Inbound => wit::CallDirection::Inbound,
                sdk::CallDirection::Outbound => wit::CallDirection::Outbound,
            },
            status: c.status,
            started_at: c.started_at,
            duration_ms: c.duration_ms,
            recording_url: c.recording_url,
            transcript: c.transcript,
        }),
        sdk::Event::Csat(c) => wit::Event::Csat(wit::CsatAnswer {
            external_id: c.external_id,
            subject: identity_to_wit(c.subject),
            score: c.score,
            scale: c.scale,
            comment: c.comment,
            at: c.at,
        }),
        sdk::Event::Integration(a) => wit::Event::Integration(wit::IntegrationEvent {
            external_id: a.external_id,
            subject: identity_to_wit(a.subject),
            claims: a.claims.into_iter().map(identity_to_wit).collect(),
            kind: a.kind,
            summary: a.summary,
            data: a.data.to_string(),
            at: a.at,
        }),
    }
}
