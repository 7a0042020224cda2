"""`POST /webhook`: LINE's webhook requests, refused or turned into events.

Order of the checks: the route (404), the method (405), the channel secret
being configured (500: the operator's mistake, logged), the signature (401),
then the body (400). LINE's "Verify" button in the console and its
connectivity checks post a signed body with an empty `events` list; that is
answered 200 without events.
"""

import json
import re

from . import config, events, manifest, signature
from .model import Host, Outcome, Refusal, Request

PATH = "/webhook"
# LINE's bodies nest about 6 levels deep. CPython's JSON parser recurses per
# level, and inside the component a few thousand levels exhaust the wasm
# stack: a trap, not a RecursionError. So the depth is checked first.
MAX_DEPTH = 64
_TOKEN = re.compile(r'[\[\]{}"]')
_STRING_REST = re.compile(r'(?:[^"\\]|\\.)*"', re.S)


def handle(host: Host, request: Request) -> Outcome:
    """Answers one webhook request, or raises a Refusal."""
    if request.path.rstrip("/") != PATH:
        raise Refusal(
            "not-found",
            f"the LINE connector has no route {_clip(request.path)}; LINE posts to {PATH}",
        )
    if request.method.upper() != "POST":
        raise Refusal(
            "unsupported",
            f"{_clip(request.method)} is not allowed on {PATH}; LINE posts webhook events",
        )
    secret = config.secret(host, manifest.CHANNEL_SECRET)
    if secret is None:
        host.log("error", f"the `{manifest.CHANNEL_SECRET}` secret is not configured; refusing webhooks")
        raise Refusal(
            "internal",
            f"the `{manifest.CHANNEL_SECRET}` secret is not configured for this LINE connector",
        )
    try:
        signature.verify(secret, request.body, request.header(signature.HEADER))
    except Refusal:
        host.log("warn", "refused a LINE webhook with a missing or wrong x-line-signature")
        raise

    payload = parse(request.body)
    found, skipped = events.convert_all(payload["events"])
    for skip in skipped:
        host.log(skip.level, skip.reason)
    return Outcome(status=200, events=found)


def parse(body: bytes) -> dict:
    """The webhook body: an object with an `events` list (400 otherwise)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal("bad-request", "the body is not UTF-8") from None
    if nesting_depth(text) > MAX_DEPTH:
        raise Refusal("bad-request", f"the body nests deeper than {MAX_DEPTH} levels; not a LINE webhook")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise Refusal("bad-request", "the body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise Refusal("bad-request", "the body is not a LINE webhook: no `events` list")
    return payload


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest, outside strings; stops counting
    past MAX_DEPTH. Linear: the regular expressions jump between brackets
    and quotes, and each string is matched once (an unterminated one ends
    the scan; the JSON parser then refuses the body)."""
    depth = deepest = 0
    position = 0
    while True:
        token = _TOKEN.search(text, position)
        if token is None:
            return deepest
        char = token.group()
        if char == '"':
            rest = _STRING_REST.match(text, token.end())
            if rest is None:
                return deepest
            position = rest.end()
            continue
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        else:
            depth -= 1
        position = token.end()


def _clip(text: str, limit: int = 80) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"
