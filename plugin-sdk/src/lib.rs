//! Write Omni channel connectors as WebAssembly components.
//!
//! A connector is a plain Rust type implementing [`Channel`]: it turns a
//! provider's webhooks into normalised [`Event`]s and sends the business's
//! messages through the provider. [`export_channel!`] turns that type into a
//! component implementing the `omni:plugin/channel` world (the WIT files ship
//! in this crate's `wit/` folder). The host stores the events; a plugin never
//! touches storage, only its own key-value space through [`Host`].
//!
//! The same crate builds natively, where the export glue disappears, so a
//! connector is unit-tested with `cargo test` against [`testing::MockHost`]:
//!
//! ```
//! use omni_plugin_sdk::prelude::*;
//!
//! struct Echo;
//!
//! impl Channel for Echo {
//!     fn manifest() -> Manifest {
//!         Manifest::new("echo", "Echo", "0.1.0", ChannelKind::Other)
//!     }
//!
//!     fn handle_webhook(_host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
//!         let text = request.text()?.to_owned();
//!         let sender = Identity::channel_user("someone");
//!         let message = InboundMessage::new("m-1", sender, text);
//!         Ok(WebhookOutcome::new(Response::no_content()).with_event(message))
//!     }
//!
//!     fn send(_host: &Host, message: OutboundMessage, _to: Identity) -> Result<SendReceipt, SendError> {
//!         Ok(SendReceipt::sent(message.id))
//!     }
//! }
//!
//! omni_plugin_sdk::export_channel!(Echo);
//!
//! let mock = testing::MockHost::new();
//! let outcome = Echo::handle_webhook(&mock.host(), Request::post("/", "hello")).unwrap();
//! assert_eq!(outcome.events.len(), 1);
//! ```
//!
//! Providers' shared conventions have their own modules: [`twilio`] (webhook
//! signatures of Twilio and Twilio-compatible providers), [`meta`] (WhatsApp,
//! Messenger and Instagram webhooks and Graph API errors), [`text`] (splitting
//! and escaping), [`crypto`] (HMAC and signature schemes) and [`clock`].
//!
//! Build the component with `cargo build --release --target wasm32-wasip2`
//! and look at it with `omni plugin inspect target/wasm32-wasip2/release/<name>.wasm`.

#![warn(missing_docs)]

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

// Lets the generated bindings name this crate the way plugin crates do.
extern crate self as omni_plugin_sdk;

mod channel;
pub mod clock;
pub mod crypto;
mod event;
mod host;
mod http;
mod integration;
mod manifest;
pub mod meta;
mod outbound;
mod outgoing;
pub mod testing;
pub mod text;
pub mod twilio;

#[cfg(target_arch = "wasm32")]
mod guest;

pub use channel::Channel;
pub use event::{
    Activity, ActivityKind, Attachment, CallDirection, CallRecord, ContactProfile, CsatAnswer, DeliveryState,
    DeliveryStatus, Event, Identity, IdentityKind, InboundMessage, IntegrationEvent,
};
pub use host::{Host, HostApi, KvError, LogLevel};
pub use http::{Header, PluginError, Request, Response, WebhookOutcome};
pub use integration::{
    DomainEvent, EventOutcome, Integration, IntegrationError, MessageDirection, Order, Person, Profile, TranscriptLine,
};
pub use manifest::{Capabilities, ChannelKind, Manifest};
pub use outbound::{OutboundMessage, PollBatch, SendError, SendReceipt};
pub use outgoing::{HttpError, IncomingResponse, OutgoingRequest};

/// The version of the `omni:plugin` WIT package this SDK implements.
pub const CONTRACT_VERSION: &str = "0.1.1";

/// Everything a connector usually needs, for `use omni_plugin_sdk::prelude::*`.
pub mod prelude {
    pub use crate::testing;
    pub use crate::{
        Attachment, Channel, ChannelKind, DeliveryState, DeliveryStatus, Event, Host, HttpError, Identity,
        IdentityKind, InboundMessage, IncomingResponse, Manifest, OutboundMessage, OutgoingRequest, PluginError,
        Request, Response, SendError, SendReceipt, WebhookOutcome,
    };
    pub use crate::{
        DomainEvent, EventOutcome, Integration, IntegrationError, IntegrationEvent, Order, Person, Profile,
    };
}

/// Turns a type implementing [`Channel`] into the component's exports.
///
/// Use it once per plugin crate, at the top level. On targets other than
/// `wasm32` it expands to nothing, so the crate still builds and tests natively.
#[macro_export]
macro_rules! export_channel {
    ($channel:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type OmniChannelExport = $crate::__private::Adapter<$channel>;
            $crate::__private::bindings::__export_channel_world!(
                OmniChannelExport with_types_in $crate::__private::bindings
            );
        };
    };
}

/// Exports a type implementing [`Integration`] as the component's
/// `omni:plugin/crm` world. A no-op when not building for wasm.
#[macro_export]
macro_rules! export_integration {
    ($integration:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type OmniIntegrationExport = $crate::__private::IntegrationAdapter<$integration>;
            $crate::__private::crm_bindings::__export_crm_world!(
                OmniIntegrationExport with_types_in $crate::__private::crm_bindings
            );
        };
    };
}

/// Implementation details of [`export_channel!`]; not a public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::{Adapter, IntegrationAdapter, bindings, crm_bindings};
    #[cfg(target_arch = "wasm32")]
    pub use wit_bindgen;
}
