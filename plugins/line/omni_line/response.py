"""LINE's answer to a push, as a receipt or a retryable or permanent failure.

Success is 200 with `{"sentMessages": [{"id", "quoteToken"}, ...]}`; errors
are `{"message": "...", "details": [{"message", "property"}]}` (Messaging API
reference, "Status codes" and "Error responses"; "Retry failed API
requests" for the retry key):

| answer | result |
|---|---|
| 2xx | sent; external id `sentMessages[0].id`, else the retry key |
| 409 with `x-line-accepted-request-id` | sent: the retry key was accepted before |
| 429, 5xx | retryable, after `Retry-After` when given |
| other 4xx, other statuses | permanent, with LINE's message |

The external id of the receipt is the id of the first message object LINE
sent: a person who quotes that message in LINE sends it back as
`quotedMessageId`, the inbound `reply-to`.
"""

import json
from typing import Any, Optional

from .model import Answer, Receipt, SendFailure

ACCEPTED_HEADER = "x-line-accepted-request-id"
# Longest wait passed on from Retry-After; a day (LINE keeps retry keys 24 h).
MAX_RETRY_AFTER_S = 24 * 60 * 60
MAX_REF_BYTES = 512


def receipt(answer: Answer, retry_key: str) -> Receipt:
    """The receipt of an accepted push; raises SendFailure otherwise."""
    status = answer.status
    if 200 <= status < 300:
        return Receipt(_sent_id(_json(answer.body)) or retry_key)
    if status == 409 and answer.header(ACCEPTED_HEADER):
        # The same retry key was accepted before: an earlier attempt went out.
        return Receipt(_sent_id(_json(answer.body)) or retry_key)
    message = f"LINE answered {status}: {_describe(answer)}"
    if status == 429:
        raise SendFailure.retry(
            message + " (rate limit, or the account's monthly message limit)",
            retry_after_ms(answer.header("retry-after")),
        )
    if 500 <= status <= 599:
        raise SendFailure.retry(message, retry_after_ms(answer.header("retry-after")))
    if status == 401:
        raise SendFailure.permanent(message + " (check the `channel_access_token` secret)")
    raise SendFailure.permanent(message)


def retry_after_ms(value: Optional[str]) -> Optional[int]:
    """`Retry-After` in whole seconds as milliseconds; None when absent or
    not a number (an HTTP date is not worth parsing for a hint)."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        return None
    return min(int(value), MAX_RETRY_AFTER_S) * 1000


def _sent_id(payload: Any) -> Optional[str]:
    if not isinstance(payload, dict):
        return None
    sent = payload.get("sentMessages")
    if not isinstance(sent, list) or not sent or not isinstance(sent[0], dict):
        return None
    value = sent[0].get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        return None
    value = value.encode("utf-8", "replace").decode("utf-8")
    return value if len(value.encode("utf-8")) <= MAX_REF_BYTES else None


def _describe(answer: Answer) -> str:
    """LINE's `message` and the first `details`, else the start of the body."""
    payload = _json(answer.body)
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        text = payload["message"]
        details = payload.get("details")
        if isinstance(details, list):
            parts = []
            for detail in details[:3]:
                if isinstance(detail, dict):
                    what = detail.get("property")
                    why = detail.get("message")
                    if isinstance(why, str):
                        parts.append(f"{what}: {why}" if isinstance(what, str) else why)
            if parts:
                text += " (" + "; ".join(parts) + ")"
    else:
        text = answer.body[:300].decode("utf-8", "replace").strip() or "no body"
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= 500 else text[:500] + "…"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
