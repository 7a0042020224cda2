"""Who the plugin is and what it asks the host for.

Kind `other`: the WIT has no LINE channel kind, so the host namespaces the
connector's identities by the plugin id (`line:U…`).
"""

ID = "line"
NAME = "LINE"
VERSION = "0.1.0"
DESCRIPTION = (
    "A LINE Official Account on the LINE Messaging API: receives the webhook events LINE "
    "posts (checked with the channel secret's x-line-signature) and answers with push "
    "messages, made idempotent with X-Line-Retry-Key."
)

# Secret names, as an operator writes them under `secrets` in omni.toml.
CHANNEL_SECRET = "channel_secret"
CHANNEL_ACCESS_TOKEN = "channel_access_token"
SECRETS = [CHANNEL_SECRET, CHANNEL_ACCESS_TOKEN]

DEFAULT_API_BASE = "https://api.line.me"
OUTBOUND_HOSTS = ["api.line.me"]

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "api_base": {
            "type": "string",
            "pattern": "^https?://[^/?#]+(/[^?#]*)?$",
            "description": (
                "Base URL of the Messaging API, without /v2/...; default https://api.line.me. "
                "Set it to point the connector at a test server (and allow that host in "
                "allowed_hosts)."
            ),
        },
    },
}
