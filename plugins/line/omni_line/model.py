"""Plain data the connector's logic works with.

These mirror the records of `omni:plugin` (`plugin-sdk/wit/omni-plugin.wit`)
that the connector uses, without importing the generated bindings: the logic
then runs, and is tested, in plain CPython. `contract.py` converts them to
and from the WIT types at the edge of the component.
"""

from dataclasses import dataclass, field
from typing import List, Optional, Protocol, Tuple

# Identity kinds as the WIT spells them.
CHANNEL_USER = "channel-user"

Headers = List[Tuple[str, str]]


@dataclass(frozen=True)
class Identity:
    """A person's identifier (`identity` in the WIT)."""

    kind: str
    value: str
    verified: bool = False


@dataclass(frozen=True)
class Attachment:
    """Metadata of a file (`attachment`); the host never stores content."""

    content_type: str
    name: Optional[str] = None
    size: Optional[int] = None
    url: Optional[str] = None


@dataclass(frozen=True)
class Message:
    """A message a person sent (`inbound-message`)."""

    external_id: str
    sender: Identity
    text: str
    attachments: List[Attachment] = field(default_factory=list)
    thread_id: Optional[str] = None
    reply_to: Optional[str] = None
    sent_at: Optional[int] = None
    display_name: Optional[str] = None


@dataclass(frozen=True)
class Profile:
    """Profile information about a person (`contact-profile`)."""

    subject: Identity
    display_name: Optional[str] = None


def first_header(headers: Headers, name: str) -> Optional[str]:
    """The first value of the header `name`, compared case-insensitively."""
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


@dataclass(frozen=True)
class Request:
    """A webhook request as the host forwards it (`http-request`)."""

    method: str
    path: str
    body: bytes
    headers: Headers = field(default_factory=list)
    query: str = ""

    def header(self, name: str) -> Optional[str]:
        """The first value of a header; names arrive in lower case."""
        return first_header(self.headers, name)


@dataclass(frozen=True)
class Outcome:
    """The answer to a webhook and the events it yields (`webhook-outcome`)."""

    status: int
    events: list = field(default_factory=list)
    headers: Headers = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True)
class Outbound:
    """A message the business sends (`outbound-message`)."""

    id: str
    text: str
    attachments: List[Attachment] = field(default_factory=list)
    conversation_id: str = ""
    reply_to: Optional[str] = None
    thread_id: Optional[str] = None


@dataclass(frozen=True)
class Answer:
    """A provider's HTTP answer (`incoming-response`)."""

    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        """The first value of a header."""
        return first_header(self.headers, name)


@dataclass(frozen=True)
class Receipt:
    """The provider accepted a message (`send-receipt`, state `sent`)."""

    external_id: str


class Refusal(Exception):
    """A webhook the connector refuses (`plugin-error`); `kind` names the case.

    Kinds: `bad-request` (400), `unauthorized` (401), `forbidden` (403),
    `not-found` (404), `unsupported` (405), `unsupported-media-type` (415),
    `internal` (500).
    """

    KINDS = (
        "bad-request",
        "unauthorized",
        "forbidden",
        "not-found",
        "unsupported",
        "unsupported-media-type",
        "internal",
    )

    def __init__(self, kind: str, message: str):
        if kind not in self.KINDS:
            raise ValueError(f"unknown refusal kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message


class SendFailure(Exception):
    """A send that failed (`send-error`): retryable (with a hint) or permanent."""

    def __init__(self, message: str, retryable: bool, after_ms: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.after_ms = after_ms if retryable else None

    @classmethod
    def permanent(cls, message: str) -> "SendFailure":
        return cls(message, retryable=False)

    @classmethod
    def retry(cls, message: str, after_ms: Optional[int] = None) -> "SendFailure":
        return cls(message, retryable=True, after_ms=after_ms)


class TransportError(Exception):
    """The host could not get an answer (`http-error`); `kind` names the case:
    `denied`, `timeout`, `unreachable`, `too-large` or `invalid`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class Host(Protocol):
    """What the logic needs from the host (the WIT `host` interface)."""

    def config(self, key: str) -> Optional[str]:
        """The instance config value as JSON text, or None when absent."""

    def secret(self, name: str) -> Optional[str]:
        """A declared secret, or None when not configured."""

    def log(self, level: str, message: str) -> None:
        """A log line; level is `trace`, `debug`, `info`, `warn` or `error`."""

    def http(self, method: str, url: str, headers: Headers, body: bytes) -> Answer:
        """Sends a request through the host; raises TransportError."""
