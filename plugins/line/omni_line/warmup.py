"""Runs every code path once while componentize-py builds the component.

componentize-py imports the app at build time and snapshots the interpreter;
only modules imported by then are in the component. Parts of the standard
library import more on first use (CPython 3.14's `hmac` imports `warnings`
when it falls back to its pure-Python HMAC, as it does without OpenSSL), and
such an import fails at run time with `ModuleNotFoundError`. Running the
webhook and send paths here, against an in-memory host, makes those imports
happen before the snapshot. Nothing here touches the real host.
"""

import json

from . import send, signature, webhook
from .model import Answer, Identity, Outbound, Refusal, Request, SendFailure, TransportError

_SECRET = "warm-up-secret"
_USER = "U00000000000000000000000000000000"


class _Host:
    def __init__(self, answers):
        self.answers = list(answers)

    def config(self, key):
        return json.dumps("https://api.line.me") if key == "api_base" else None

    def secret(self, name):
        return _SECRET

    def log(self, level, message):
        pass

    def http(self, method, url, headers, body):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _events():
    source = {"type": "group", "groupId": "C0", "userId": _USER}
    messages = [
        {"id": "1", "type": "text", "text": "\ud800 hi", "quotedMessageId": "0"},
        {"id": "2", "type": "image", "contentProvider": {"type": "external", "originalContentUrl": "https://x/y"},
         "imageSet": {"id": "s", "index": 1, "total": 2}},
        {"id": "3", "type": "video", "contentProvider": {"type": "line"}},
        {"id": "4", "type": "audio"},
        {"id": "5", "type": "file", "fileName": "a.txt", "fileSize": 1},
        {"id": "6", "type": "location", "title": "t", "address": "a", "latitude": 1.5, "longitude": 2},
        {"id": "7", "type": "sticker", "text": "s"},
        {"id": "8", "type": "new"},
    ]
    events = [{"type": "message", "timestamp": 1, "source": source, "message": m} for m in messages]
    events += [{"type": "follow", "source": {"type": "user", "userId": _USER}},
               {"type": "unfollow", "source": {"type": "user", "userId": _USER}},
               {"type": "message", "source": {"type": "room", "roomId": "R0"}, "message": {"id": "9"}},
               {"type": "other"}, None]
    return events


def warm_up() -> None:
    """Exercises signature, parsing, events, sending and every answer kind."""
    host = _Host([])
    body = json.dumps({"destination": _USER, "events": _events()}).encode("utf-8")
    for request in [
        Request("POST", "/webhook", body, [("x-line-signature", signature.sign(_SECRET, body))]),
        Request("POST", "/webhook", body, [("x-line-signature", "forged")]),
        Request("POST", "/webhook", b"\xff", [("x-line-signature", signature.sign(_SECRET, b"\xff"))]),
        Request("POST", "/webhook", b"[" * 10_000, [("x-line-signature", signature.sign(_SECRET, b"[" * 10_000))]),
        Request("GET", "/webhook", b""),
        Request("POST", "/elsewhere", b""),
    ]:
        try:
            webhook.handle(host, request)
        except Refusal:
            pass
    answers = [
        Answer(200, [], b'{"sentMessages": [{"id": "1"}]}'),
        Answer(409, [("x-line-accepted-request-id", "x")], b"{}"),
        Answer(429, [("retry-after", "1")], b'{"message": "m", "details": [{"message": "d", "property": "p"}]}'),
        Answer(500, [], b"<html>"),
        Answer(401, [], b"{}"),
        TransportError("timeout", "t"),
        TransportError("denied", "d"),
    ]
    host = _Host(answers)
    message = Outbound(id="warm-up", text="a\n" * 3000 + "🍎 b " * 10)
    for _ in answers:
        try:
            send.deliver(host, message, Identity("channel-user", _USER))
        except SendFailure:
            pass
    for recipient in [Identity("phone", "+1"), Identity("channel-user", "x y")]:
        try:
            send.deliver(host, message, recipient)
        except SendFailure:
            pass
