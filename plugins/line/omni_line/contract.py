"""The edge of the component: WIT types in, plain data to the logic, WIT out.

The only module that imports the bindings componentize-py generates
(`wit_world`). Every entry point catches everything: an exception escaping
into the component model becomes a trap, which the host counts as a failed
call (and LINE would redeliver the webhook). Refusals and send failures
become the WIT's error results; anything unexpected becomes `internal` (a
webhook) or a permanent failure (a send), logged with its type.
"""

import json
from typing import Optional

from componentize_py_types import Err
from wit_world.imports import host as wit_host
from wit_world.imports import types

from . import manifest as plugin
from . import send as outbound
from . import webhook
from .model import (
    CHANNEL_USER,
    Answer,
    Attachment,
    Identity,
    Message,
    Outbound,
    Profile,
    Refusal,
    Request,
    SendFailure,
    TransportError,
)

LOG_LEVELS = {
    "trace": types.LogLevel.TRACE,
    "debug": types.LogLevel.DEBUG,
    "info": types.LogLevel.INFO,
    "warn": types.LogLevel.WARN,
    "error": types.LogLevel.ERROR,
}

IDENTITY_KINDS = {
    types.IdentityKind.EMAIL: "email",
    types.IdentityKind.PHONE: "phone",
    types.IdentityKind.CHANNEL_USER: CHANNEL_USER,
    types.IdentityKind.CRM_ID: "crm-id",
    types.IdentityKind.EXTERNAL_ID: "external-id",
}

REFUSALS = {
    "bad-request": types.PluginError_BadRequest,
    "unauthorized": types.PluginError_Unauthorized,
    "forbidden": types.PluginError_Forbidden,
    "not-found": types.PluginError_NotFound,
    "unsupported": types.PluginError_Unsupported,
    "unsupported-media-type": types.PluginError_UnsupportedMediaType,
    "internal": types.PluginError_Internal,
}

TRANSPORT_ERRORS = {
    types.HttpError_Denied: "denied",
    types.HttpError_Timeout: "timeout",
    types.HttpError_Unreachable: "unreachable",
    types.HttpError_TooLarge: "too-large",
    types.HttpError_Invalid: "invalid",
}


class WitHost:
    """The `model.Host` the logic uses, backed by the WIT `host` imports."""

    def config(self, key: str) -> Optional[str]:
        return wit_host.config_get(key)

    def secret(self, name: str) -> Optional[str]:
        return wit_host.secret_get(name)

    def log(self, level: str, message: str) -> None:
        try:
            wit_host.log(LOG_LEVELS.get(level, types.LogLevel.INFO), _text(message))
        except Exception:  # a log line is never worth failing a call
            pass

    def http(self, method: str, url: str, headers, body: bytes) -> Answer:
        request = types.OutgoingRequest(
            method=method,
            url=url,
            headers=[types.Header(name=n, value=v) for n, v in headers],
            body=body,
        )
        try:
            answer = wit_host.http_send(request)
        except Err as error:
            kind = TRANSPORT_ERRORS.get(type(error.value), "invalid")
            raise TransportError(kind, str(getattr(error.value, "value", error.value))) from None
        return Answer(
            status=answer.status,
            headers=[(h.name, h.value) for h in answer.headers],
            body=bytes(answer.body),
        )


def manifest() -> types.PluginManifest:
    return types.PluginManifest(
        id=plugin.ID,
        name=plugin.NAME,
        version=plugin.VERSION,
        description=plugin.DESCRIPTION,
        kind=types.ChannelKind.OTHER,
        capabilities=types.Capabilities(
            secrets=list(plugin.SECRETS),
            kv=False,
            outbound_hosts=list(plugin.OUTBOUND_HOSTS),
            poll_interval_ms=None,
        ),
        config_schema=json.dumps(plugin.CONFIG_SCHEMA),
    )


def handle_webhook(request: types.HttpRequest) -> types.WebhookOutcome:
    host = WitHost()
    error = None
    try:
        outcome = webhook.handle(
            host,
            Request(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=[(h.name, h.value) for h in request.headers],
                body=bytes(request.body),
            ),
        )
        return types.WebhookOutcome(
            response=types.HttpResponse(
                status=outcome.status,
                headers=[types.Header(name=n, value=v) for n, v in outcome.headers],
                body=outcome.body,
            ),
            events=[_event(e) for e in outcome.events],
        )
    except Refusal as refusal:
        error = REFUSALS[refusal.kind](_text(refusal.message))
    except Exception as unexpected:  # a bug: never let it trap
        host.log("error", f"LINE webhook failed unexpectedly: {type(unexpected).__name__}: {unexpected}")
        error = types.PluginError_Internal(
            _text(f"internal error in the LINE connector ({type(unexpected).__name__})")
        )
    raise Err(error)


def send(message: types.OutboundMessage, recipient: types.Identity) -> types.SendReceipt:
    host = WitHost()
    error = None
    try:
        receipt = outbound.deliver(
            host,
            Outbound(
                id=message.id,
                conversation_id=message.conversation_id,
                text=message.text,
                attachments=[
                    Attachment(content_type=a.content_type, name=a.name, size=a.size, url=a.url)
                    for a in message.attachments
                ],
                reply_to=message.reply_to,
                thread_id=message.thread_id,
            ),
            Identity(IDENTITY_KINDS.get(recipient.kind, "unknown"), recipient.value, recipient.verified),
        )
        return types.SendReceipt(external_id=receipt.external_id, state=types.DeliveryState.SENT)
    except SendFailure as failure:
        if failure.retryable:
            error = types.SendError_Retryable(types.RetryLater(message=_text(failure.message), after_ms=failure.after_ms))
        else:
            error = types.SendError_Permanent(_text(failure.message))
    except Exception as unexpected:  # a bug: never let it trap
        host.log("error", f"LINE send failed unexpectedly: {type(unexpected).__name__}: {unexpected}")
        error = types.SendError_Permanent(
            _text(f"internal error in the LINE connector ({type(unexpected).__name__})")
        )
    raise Err(error)


def poll(cursor: Optional[str]) -> types.PollBatch:
    raise Err(types.PluginError_Unsupported("the LINE connector is driven by webhooks; it does not poll"))


def _event(event):
    if isinstance(event, Message):
        return types.Event_MessageReceived(
            types.InboundMessage(
                external_id=event.external_id,
                sender=_identity(event.sender),
                claims=[],
                display_name=event.display_name,
                text=event.text,
                attachments=[_attachment(a) for a in event.attachments],
                thread_id=event.thread_id,
                reply_to=event.reply_to,
                references=[],
                sent_at=event.sent_at,
            )
        )
    if isinstance(event, Profile):
        return types.Event_ContactProfile(
            types.ContactProfile(subject=_identity(event.subject), display_name=event.display_name, claims=[])
        )
    raise TypeError(f"no WIT event for {type(event).__name__}")


def _identity(identity: Identity) -> types.Identity:
    kinds = {v: k for k, v in IDENTITY_KINDS.items()}
    return types.Identity(kind=kinds[identity.kind], value=identity.value, verified=identity.verified)


def _attachment(attachment: Attachment) -> types.Attachment:
    return types.Attachment(
        name=attachment.name, content_type=attachment.content_type, size=attachment.size, url=attachment.url
    )


def _text(text: str) -> str:
    """Valid Unicode for the component model (no lone surrogates)."""
    return str(text).encode("utf-8", "replace").decode("utf-8")
