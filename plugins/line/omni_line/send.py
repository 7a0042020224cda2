"""Outbound messages: one push request per message.

`POST {api_base}/v2/bot/message/push` with the channel access token as a
Bearer token and `{"to": <user id>, "messages": [...]}` (Messaging API
reference, "Send push message"). The text becomes up to 5 text message
objects (`split`); an image attachment with an https URL becomes an image
message object; any other attachment with an https URL is added to the text
as a link, since LINE has no generic file message.

Idempotency: the request carries `X-Line-Retry-Key`, a UUID derived from the
host's message id (stable across the host's retries). LINE executes a
request with a given key once; a retry after LINE accepted the first one is
answered 409 and counts as sent (`response`). LINE keeps keys for 24 hours.
"""

import json
import re
import uuid
from typing import List, Tuple

from . import config, manifest, response, split
from .model import CHANNEL_USER, Attachment, Host, Identity, Outbound, Receipt, SendFailure, TransportError

PUSH_PATH = "/v2/bot/message/push"
RETRY_KEY_HEADER = "x-line-retry-key"
# Fixed namespace of the retry keys: the same message id always gives the
# same key, and keys of this connector do not collide with other uses of uuid5.
RETRY_KEY_NAMESPACE = uuid.UUID("19c2b4e8-1601-4a53-8550-e620b3f50f20")
# LINE ids: `U…` users, `C…` groups, `R…` rooms (33 characters today).
RECIPIENT = re.compile(r"[A-Za-z0-9_-]{1,100}")
# Image types LINE shows inline (image message: JPEG or PNG, https).
IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png")
MAX_URL_LENGTH = 2000


def retry_key(message_id: str) -> str:
    """The X-Line-Retry-Key of a host message: a UUID, the same on every retry."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, message_id))


def deliver(host: Host, message: Outbound, recipient: Identity) -> Receipt:
    """Sends `message` to the LINE user `recipient`; raises SendFailure."""
    token = config.secret(host, manifest.CHANNEL_ACCESS_TOKEN)
    if token is None:
        raise SendFailure.permanent(
            f"the `{manifest.CHANNEL_ACCESS_TOKEN}` secret is not configured for this LINE connector"
        )
    if not _header_safe(token):
        raise SendFailure.permanent(
            f"the `{manifest.CHANNEL_ACCESS_TOKEN}` secret has characters a LINE channel access token never has"
        )
    try:
        base = config.api_base(host)
    except config.ConfigError as error:
        raise SendFailure.permanent(str(error)) from None

    to = recipient_id(recipient)
    body = {"to": to, "messages": messages(message)}
    key = retry_key(message.id)
    headers = [
        ("authorization", f"Bearer {token}"),
        ("content-type", "application/json"),
        (RETRY_KEY_HEADER, key),
    ]
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    try:
        answer = host.http("POST", base + PUSH_PATH, headers, data)
    except TransportError as error:
        raise _transport_failure(error, token) from None
    return response.receipt(answer, key)


def recipient_id(recipient: Identity) -> str:
    """The `to` of a push: the LINE user id the host addresses the person by."""
    if recipient.kind != CHANNEL_USER:
        raise SendFailure.permanent(
            f"LINE reaches people by their LINE user id (channel-user), not by {recipient.kind}"
        )
    value = recipient.value.strip()
    if not RECIPIENT.fullmatch(value):
        raise SendFailure.permanent(f"{_clip(value)!r} is not a LINE user id")
    return value


def messages(message: Outbound) -> List[dict]:
    """The message objects of one push, at most 5 (permanent failure beyond)."""
    images, links = _attachments(message.attachments)
    text = message.text
    if links:
        text = "\n".join([text.rstrip()] + links) if text.strip() else "\n".join(links)
    budget = split.MAX_MESSAGES - len(images)
    limit = split.MAX_MESSAGES * split.MAX_TEXT_UNITS
    if split.units(text) > limit:
        raise SendFailure.permanent(
            f"the text has {split.units(text)} characters (UTF-16 units); one LINE push carries at most "
            f"{split.MAX_MESSAGES} texts of {split.MAX_TEXT_UNITS}, so {limit} in all"
        )
    texts = split.pieces(text)
    if len(texts) > budget:
        raise SendFailure.permanent(
            f"the message needs {len(texts)} text and {len(images)} image objects; one LINE push "
            f"carries at most {split.MAX_MESSAGES}"
        )
    objects = [{"type": "text", "text": piece} for piece in texts] + images
    if not objects:
        raise SendFailure.permanent("the message has no text and no attachments")
    return objects


def _attachments(attachments: List[Attachment]) -> Tuple[List[dict], List[str]]:
    images: List[dict] = []
    links: List[str] = []
    for attachment in attachments:
        url = (attachment.url or "").strip()
        label = attachment.name or "attachment"
        if not url.startswith("https://") or len(url) > MAX_URL_LENGTH:
            raise SendFailure.permanent(
                f"attachment {_clip(label)!r} has no https URL LINE can fetch; LINE only sends files by URL"
            )
        content_type = attachment.content_type.split(";")[0].strip().lower()
        if content_type in IMAGE_TYPES:
            images.append({"type": "image", "originalContentUrl": url, "previewImageUrl": url})
        else:
            links.append(f"{label}: {url}")
    return images, links


def _transport_failure(error: TransportError, token: str) -> SendFailure:
    """The host's transport errors: timeouts and connection failures are
    worth a retry (the retry key keeps it from sending twice); a refused
    host or a malformed request is not (the WIT's `http-error` docs)."""
    text = error.message.replace(token, "<channel_access_token>")
    message = f"no answer from LINE ({error.kind}): {text}"
    if error.kind in ("denied", "invalid"):
        if error.kind == "denied":
            message += "; allow the api_base host in this instance's allowed_hosts"
        return SendFailure.permanent(message)
    # timeout, unreachable; too-large: LINE answered, so the push was probably
    # accepted, and a retry with the same key resolves it as 409 -> sent.
    return SendFailure.retry(message)


def _header_safe(value: str) -> bool:
    return all(33 <= ord(c) <= 126 for c in value)


def _clip(text: str, limit: int = 60) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"
