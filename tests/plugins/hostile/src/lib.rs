//! A channel plugin that misbehaves on request, for containment tests.
//!
//! Each webhook path triggers one kind of bad behaviour; `/ok` behaves. The
//! host must fail only the misbehaving call and keep serving everything else.
//! `send` misbehaves according to the reply text.

use omni_plugin_sdk::prelude::*;

/// The hostile plugin.
pub struct Hostile;

impl Channel for Hostile {
    fn manifest() -> Manifest {
        Manifest::new("hostile", "Hostile test plugin", "0.1.0", ChannelKind::Other)
            .with_description("Misbehaves on purpose: loops, allocates, panics, floods.")
            .with_kv()
            .with_secret("declared")
            .with_config_schema(serde_json::json!({"type": "object"}))
    }

    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        match request.path.as_str() {
            "/ok" => {
                let id = request.query_param("id").unwrap_or_else(|| "m-1".to_owned());
                let sender = Identity::channel_user(request.query_param("from").unwrap_or_else(|| "u-1".to_owned()));
                let message = InboundMessage::new(id, sender, "fine");
                Ok(WebhookOutcome::new(Response::text(200, "ok")).with_event(message))
            }
            "/loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/alloc" => {
                // 1 GiB, touched so it cannot be optimised away.
                let mut big = vec![0u8; 1 << 30];
                big[12345] = 1;
                Ok(WebhookOutcome::new(Response::text(200, format!("{}", big[12345]))))
            }
            "/alloc-slow" => {
                let mut chunks = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    chunk[0] = 1;
                    chunks.push(chunk);
                }
            }
            "/trap" => panic!("hostile plugin panicked on purpose"),
            "/huge" => Ok(WebhookOutcome::new(Response::ok().with_body(vec![b'x'; 8 << 20]))),
            "/many-events" => {
                let mut outcome = WebhookOutcome::new(Response::ok());
                for i in 0..20_000 {
                    outcome =
                        outcome.with_event(InboundMessage::new(format!("m-{i}"), Identity::channel_user("u"), "x"));
                }
                Ok(outcome)
            }
            "/huge-text" => {
                let message = InboundMessage::new("m-big", Identity::channel_user("u"), "x".repeat(4 << 20));
                Ok(WebhookOutcome::new(Response::ok()).with_event(message))
            }
            "/bad-sender" => {
                let message = InboundMessage::new("m-x", Identity::phone("not a phone"), "hi");
                Ok(WebhookOutcome::new(Response::ok()).with_event(message))
            }
            "/bad-status" => Ok(WebhookOutcome::new(Response::status(1000))),
            "/log-flood" => {
                for i in 0..10_000 {
                    host.info(&format!("line {i}"));
                }
                Ok(WebhookOutcome::new(Response::text(200, "logged")))
            }
            "/stderr-flood" => {
                for _ in 0..1_000 {
                    eprintln!("{}", "noise ".repeat(100));
                }
                Ok(WebhookOutcome::new(Response::text(200, "printed")))
            }
            "/undeclared-secret" => {
                let value = host.secret("not_declared");
                Ok(WebhookOutcome::new(Response::text(200, format!("{value:?}"))))
            }
            "/declared-secret" => {
                let value = host.secret("declared");
                Ok(WebhookOutcome::new(Response::text(200, format!("{value:?}"))))
            }
            "/kv-flood" => {
                for i in 0..1000 {
                    host.kv_set(&format!("k{i}"), b"v")?;
                }
                Ok(WebhookOutcome::new(Response::ok()))
            }
            "/kv-huge" => {
                host.kv_set("k", &vec![0u8; 2 << 20])?;
                Ok(WebhookOutcome::new(Response::ok()))
            }
            "/counter" => {
                // Read-modify-write: concurrent calls must never lose an increment.
                let current: u64 = host.kv_get_json("counter")?.unwrap_or(0);
                host.kv_set_json("counter", &(current + 1))?;
                let message = InboundMessage::new(
                    format!("c-{}", request.query_param("id").unwrap_or_default()),
                    Identity::channel_user("counter"),
                    format!("{}", current + 1),
                );
                Ok(WebhookOutcome::new(Response::text(200, format!("{}", current + 1))).with_event(message))
            }
            "/random-id" => {
                // An id made up per call instead of the provider's: a
                // retried webhook would be stored twice.
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default();
                let message = InboundMessage::new(format!("m-{nanos}"), Identity::channel_user("u-1"), "hi");
                Ok(WebhookOutcome::new(Response::ok()).with_event(message))
            }
            "/undeclared-host" => {
                // The manifest declares no outbound host.
                let answer = host.http(&OutgoingRequest::get("https://tracker.example.net/collect"));
                Ok(WebhookOutcome::new(Response::text(200, format!("{}", answer.is_ok()))))
            }
            "/calls" => {
                // Counts calls in the instance's memory: 1 each time under a
                // fresh instance per call, counting up on a warm instance.
                static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                Ok(WebhookOutcome::new(Response::text(200, n.to_string())))
            }
            "/instance-id" => Ok(WebhookOutcome::new(Response::text(200, host.instance_id()))),
            "/refuse" => Err(PluginError::unauthorized("signature mismatch")),
            _ => Err(PluginError::not_found("no such hostile behaviour")),
        }
    }

    fn send(_host: &Host, message: OutboundMessage, _recipient: Identity) -> Result<SendReceipt, SendError> {
        match message.text.as_str() {
            "trap" => panic!("hostile send panicked"),
            "loop" => loop {
                std::hint::spin_loop();
            },
            "retry" => Err(SendError::retryable("provider said 503")),
            "permanent" => Err(SendError::permanent("invalid recipient")),
            _ => Ok(SendReceipt::sent(format!("ext-{}", message.id))),
        }
    }
}

omni_plugin_sdk::export_channel!(Hostile);
