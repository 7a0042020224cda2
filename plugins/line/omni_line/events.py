"""Which LINE webhook event becomes which Omni event.

A webhook body carries a list of events (Messaging API reference, "Webhook
event objects"). Each one becomes at most one Omni event:

- `message` (text, image, video, audio, file, location, sticker) ->
  `message-received`, external id `message.id`. LINE gives a redelivered
  event (`deliveryContext.isRedelivery`) the same message id, so the host
  drops the duplicate.
- `follow` (added as a friend, or unblocked) -> `contact-profile` of the
  user: the host learns the person before their first message, and push
  messages can reach them. LINE's webhook carries no name; no profile call is
  made.
- `unfollow`, `join`, `leave`, `memberJoined`, `memberLeft`, `postback`,
  `unsend`, `beacon`, `accountLink`, `videoPlayComplete`, ... and unknown
  types -> nothing.

An event that cannot be used (no `source.userId`: in groups and rooms LINE
omits it for users of some clients; no message id; values the host would
refuse) is skipped with a reason and the other events of the body are kept.
A skip never fails the webhook: LINE would redeliver the whole body.
"""

from dataclasses import dataclass
from typing import Any, List, Optional, Union

from .model import CHANNEL_USER, Attachment, Identity, Message, Profile

# What the host accepts (host/src/events.rs, core identity normalisation).
MAX_REF_BYTES = 512
MAX_ID_BYTES = 256
# The host's default `max_text_bytes`: a longer text would make it refuse the
# whole webhook (and LINE redeliver it forever). LINE's own limit (5,000
# UTF-16 units) stays far below; this only guards against the unexpected.
MAX_TEXT_BYTES = 64 * 1024
S64_MAX = 2**63 - 1
U64_MAX = 2**64 - 1

# MIME types of the content LINE serves for a message id. LINE delivers
# user photos as JPEG, videos as MP4 and voice messages as M4A.
CONTENT_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mp4",
    "file": "application/octet-stream",
}

Event = Union[Message, Profile]


@dataclass(frozen=True)
class Skipped:
    """An event that yields nothing, and why (for the log)."""

    reason: str
    level: str = "debug"


def convert(event: Any) -> Union[Message, Profile, Skipped]:
    """One LINE webhook event object to an Omni event, or why not."""
    if not isinstance(event, dict):
        return Skipped("an entry of `events` is not an object", "warn")
    kind = _string(event.get("type")) or "(no type)"
    if kind == "message":
        return _message(event)
    if kind == "follow":
        return _follow(event)
    if kind == "unfollow":
        user = _user_id(event)
        return Skipped(f"user {user or '(unknown)'} blocked the LINE account (unfollow)", "info")
    return Skipped(f"ignoring a LINE `{_clip(kind, 64)}` event")


def _message(event: dict) -> Union[Message, Skipped]:
    message = event.get("message")
    if not isinstance(message, dict):
        return Skipped("a message event without a message object", "warn")
    message_id = _ref(message.get("id"))
    if message_id is None:
        return Skipped("a message event without a usable message id", "warn")
    user = _user_id(event)
    if user is None:
        return Skipped(
            f"message {message_id} has no source.userId (LINE omits it for some users in "
            "groups and rooms); nobody to attribute it to",
            "info",
        )
    kind = _string(message.get("type")) or "(no type)"
    text, attachments = _content(kind, message)
    return Message(
        external_id=message_id,
        sender=Identity(CHANNEL_USER, user, verified=True),
        text=_clip_bytes(text, MAX_TEXT_BYTES),
        attachments=attachments,
        thread_id=_thread(event.get("source")),
        reply_to=_ref(message.get("quotedMessageId")),
        sent_at=_int(event.get("timestamp"), 0, S64_MAX),
    )


def _content(kind: str, message: dict):
    """The text agents read and the attachment metadata of one message."""
    if kind == "text":
        return _string(message.get("text")) or "", []
    if kind == "sticker":
        # Message stickers carry the text the user typed on them.
        typed = _string(message.get("text"))
        return ("[sticker] " + typed) if typed else "[sticker]", []
    if kind == "location":
        parts = [p for p in (_string(message.get("title")), _string(message.get("address"))) if p]
        lat = _number(message.get("latitude"))
        lon = _number(message.get("longitude"))
        if lat is not None and lon is not None:
            parts.append(f"geo:{lat},{lon}")
        return "[location] " + "\n".join(parts) if parts else "[location]", []
    if kind in CONTENT_TYPES:
        return _media_text(kind, message), [_attachment(kind, message)]
    # A message type newer than this connector: say that something came.
    return f"[{_clip(kind, 64)}]", []


def _media_text(kind: str, message: dict) -> str:
    if kind == "file":
        name = _string(message.get("fileName"))
        return f"[file] {name}" if name else "[file]"
    image_set = message.get("imageSet")
    if kind == "image" and isinstance(image_set, dict):
        index = _int(image_set.get("index"), 1, 10_000)
        total = _int(image_set.get("total"), 1, 10_000)
        if index is not None and total is not None:
            return f"[image {index} of {total}]"
    return f"[{kind}]"


def _attachment(kind: str, message: dict) -> Attachment:
    """Metadata only. Content a user sent through LINE is served by
    `GET https://api-data.line.me/v2/bot/message/{id}/content` with the
    channel access token, which must not end up in the host's database, so
    such attachments carry no URL. Content the sender hosts itself
    (`contentProvider.type = external`) has a public URL, which is kept."""
    url = None
    provider = message.get("contentProvider")
    if isinstance(provider, dict) and provider.get("type") == "external":
        original = _string(provider.get("originalContentUrl"))
        if original and original.startswith("https://") and len(original) <= 2000:
            url = original
    name = _string(message.get("fileName")) if kind == "file" else None
    size = _int(message.get("fileSize"), 0, U64_MAX) if kind == "file" else None
    return Attachment(content_type=CONTENT_TYPES[kind], name=name, size=size, url=url)


def _follow(event: dict) -> Union[Profile, Skipped]:
    user = _user_id(event)
    if user is None:
        return Skipped("a follow event without source.userId", "warn")
    return Profile(subject=Identity(CHANNEL_USER, user, verified=True))


def _user_id(event: dict) -> Optional[str]:
    """`source.userId`, when it is an id the host can store."""
    source = event.get("source")
    if not isinstance(source, dict):
        return None
    value = _string(source.get("userId"))
    if value is None:
        return None
    value = value.strip()
    if not value or len(value.encode("utf-8")) > MAX_ID_BYTES or not value.isprintable():
        return None
    return value


def _thread(source: Any) -> Optional[str]:
    """The group or room id: LINE's conversation with several people."""
    if not isinstance(source, dict):
        return None
    if source.get("type") == "group":
        return _ref(source.get("groupId"))
    if source.get("type") == "room":
        return _ref(source.get("roomId"))
    return None


def _ref(value: Any) -> Optional[str]:
    """An id usable as external id, thread id or reply-to: 1 to 512 bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    value = _string(value)
    if value is None or value.strip() == "":
        return None
    if len(value.encode("utf-8")) > MAX_REF_BYTES or not value.isprintable():
        return None
    return value


def _string(value: Any) -> Optional[str]:
    """A JSON string as valid Unicode (lone surrogates from `\\ud800`
    escapes replaced: the component model only carries valid UTF-8)."""
    if not isinstance(value, str):
        return None
    return value.encode("utf-8", "replace").decode("utf-8")


def _int(value: Any, low: int, high: int) -> Optional[int]:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return value


def _clip_bytes(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut at a character, marked with `…`."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def convert_all(events: List[Any]):
    """Converts a body's events: the Omni events in order, and the skips."""
    out: List[Event] = []
    skipped: List[Skipped] = []
    for event in events:
        result = convert(event)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            out.append(result)
    return out, skipped
