#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the repository's fixtures.

    python3 fuzz/seeds.py [OUT_DIR]     # default: fuzz/seeds

One directory per target: webhook/ (every plugin's conformance requests and
provider payloads, in the format fuzz_targets/webhook.rs reads), identity/
(a few identifiers of each kind) and config/ (the example configs and the
TOML blocks of docs/). Nothing is copied into git: CI makes
them afresh, so they follow the fixtures.
"""

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The order of CONNECTORS in fuzz_targets/webhook.rs: byte 0 of an input.
CONNECTORS = [
    "webchat", "email", "sms", "voice", "whatsapp", "messenger", "telegram",
    "hubspot", "salesforce", "shopify", "webhook-out",
]
SIGN = 1  # flag bit: sign the request like the provider
VARIANT = 2  # flag bit: the connector's other config

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def request(connector, flags, method, target, headers, body):
    head = f"{method} {target}\n" + "".join(f"{k}: {v}\n" for k, v in headers.items())
    return bytes([CONNECTORS.index(connector), flags]) + head.encode() + b"\n" + body


def provider_payload(connector, name, body):
    """The route, headers and flags of one provider fixture; None to skip it."""
    stem, _, extension = name.rpartition(".")
    if extension not in ("json", "form", "txt", "eml"):
        return None  # README.md
    if re.search(r"(^|[-_])error|send[-_]response|^send_|message-created", name):
        return None  # answers of the provider's API, not webhooks
    if connector == "email":
        if name.endswith(".eml"):
            return "/inbound/mime", {"content-type": "message/rfc822"}, SIGN
        flags = VARIANT if name.startswith("mailgun") else SIGN
        if name.endswith(".txt"):
            boundary = body.split(b"\n", 1)[0][2:].strip().decode()
            return "/inbound", {"content-type": f"multipart/form-data; boundary={boundary}"}, flags
        route = "/inbound" if "inbound" in stem else "/events"
        return route, {"content-type": JSON}, flags
    if connector == "sms" and name.endswith(".form"):
        return ("/sms" if stem.startswith("incoming") else "/status"), {"content-type": FORM}, SIGN
    if connector == "voice" and name.endswith(".form"):
        if stem == "incoming-call":
            route = "/voice/incoming"
        elif stem.startswith("call-status"):
            route = "/voice/status"
        elif stem == "recording-completed":
            route = "/voice/recording"
        elif stem == "transcription-completed":
            route = "/voice/transcription"
        else:
            route = "/video/status"
        return route, {"content-type": FORM}, SIGN
    if connector in ("whatsapp", "messenger", "telegram") and name.endswith(".json"):
        if connector == "telegram" and not stem.startswith("update_"):
            return None
        return "/webhook", {"content-type": JSON}, SIGN
    if connector == "shopify" and stem in ("checkouts-create", "orders-create"):
        headers = {
            "content-type": JSON,
            "x-shopify-topic": stem.replace("-", "/"),
            "x-shopify-shop-domain": "acme.myshopify.com",
        }
        return "/webhooks", headers, SIGN
    return None


def webhook_seeds():
    seeds = []
    for connector in CONNECTORS:
        fixtures = ROOT / "plugins" / connector / "fixtures"
        for case in sorted((fixtures / "conformance").glob("*.json")):
            spec = json.loads(case.read_text()).get("request")
            if not spec:
                continue  # a send case
            if "body_file" in spec:
                body = (case.parent / spec["body_file"]).read_bytes()
            elif "body_base64" in spec:
                import base64
                body = base64.b64decode(spec["body_base64"])
            else:
                body = spec.get("body", "").encode()
            for flags in (0, SIGN):
                seeds.append(request(connector, flags, spec["method"], spec["path"], spec.get("headers", {}), body))
        for fixture in sorted(fixtures.iterdir()):
            if not fixture.is_file():
                continue
            body = fixture.read_bytes()
            found = provider_payload(connector, fixture.name, body)
            if found is None:
                continue
            route, headers, flags = found
            if fixture.suffix == ".form":
                body = body.rstrip(b"\r\n")
            if headers["content-type"].startswith("multipart/") or fixture.suffix == ".eml":
                body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            seeds.append(request(connector, flags, "POST", route, headers, body))
        # Every route a connector knows, empty, and the Meta subscription check.
        for route in ("/", "/webhook", "/messages", "/poll?visitor_id=v-1&after=0", "/widget.js"):
            seeds.append(request(connector, 0, "GET", route, {}, b""))
    for connector in ("whatsapp", "messenger"):
        target = "/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
        seeds.append(request(connector, 0, "GET", target, {}, b""))
    seeds.append(request("webchat", 0, "OPTIONS", "/messages", {"origin": "https://shop.example"}, b""))
    return seeds


IDENTITIES = [
    # byte 0: kind (0 email, 1 phone, 2 channel user, 3 CRM id, 4 external id) + 5 * region index
    (0, "Ann.Lee+support@Example.COM"),
    (0, " ann@xn--bcher-kva.example "),
    (0, "\"quoted local\"@example.com"),
    (1, "+1 415 555 0100"),
    (1, "0044 20 7946 0958"),
    (1 + 5, "(415) 555-0100"),
    (1 + 10, "020 7946 0958"),
    (1 + 15, "030 901820"),
    (1 + 20, "98765 43210"),
    (1 + 25, "(11) 91234-5678"),
    (2, "telegram\x00123456789"),
    (2, "webchat\x00v-1"),
    (3, "hubspot\x0012345"),
    (4, "customer-42"),
]


def identity_seeds():
    return [bytes([selector]) + text.encode() for selector, text in IDENTITIES]


def config_seeds():
    seeds = [path.read_bytes() for path in sorted((ROOT / "examples").glob("*.toml"))]
    for doc in sorted((ROOT / "docs").rglob("*.md")):
        seeds += [block.encode() for block in re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S)]
    return seeds


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz" / "seeds"
    for target, seeds in (("webhook", webhook_seeds()), ("identity", identity_seeds()), ("config", config_seeds())):
        directory = out / target
        directory.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        print(f"{target}: {len(seeds)} seeds in {directory}")


if __name__ == "__main__":
    main()
