"""The instance config and secrets, read through the host.

`config-get` returns JSON text; the host has already checked the config
against the manifest's schema at load, but the connector still refuses a
value of the wrong shape instead of trusting it.
"""

import json
from typing import Optional

from . import manifest
from .model import Host


class ConfigError(Exception):
    """The operator's config or secrets cannot work; the message says which key."""


def api_base(host: Host) -> str:
    """The Messaging API base URL, without a trailing slash."""
    raw = host.config("api_base")
    if raw is None:
        return manifest.DEFAULT_API_BASE
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError("config api_base is not valid JSON") from None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ConfigError("config api_base must be an http(s) URL, e.g. https://api.line.me")
    return value.rstrip("/")


def secret(host: Host, name: str) -> Optional[str]:
    """A secret, or None when it is missing or blank.

    Surrounding whitespace is dropped: LINE secrets and tokens never contain
    any, and a newline left over from a secret file would otherwise break
    every signature check.
    """
    value = host.secret(name)
    if value is None:
        return None
    value = value.strip()
    return value or None
