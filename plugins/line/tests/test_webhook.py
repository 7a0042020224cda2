"""Webhooks: routing, refusals, and which LINE event becomes which Omni event."""

import json
import unittest

import support
from omni_line import events, signature, webhook
from omni_line.model import Message, Profile, Refusal, Request

SECRET = support.sample()["secrets"]["channel_secret"]
USER = "U4af4980629e3c2b5d7f1a8e6c0b9d3f2"
GROUP = "Ca56f94637cc4347f90a25382909b24b9"


def signed(body, secret=SECRET, method="POST", path="/webhook"):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode("utf-8")
    return Request(method=method, path=path, body=body,
                   headers=[("content-type", "application/json"),
                            ("x-line-signature", signature.sign(secret, body))])


def fixture(name):
    return (support.FIXTURES / name).read_bytes()


def handle(request, host=None):
    return webhook.handle(host or support.FakeHost.from_sample(), request)


def refusal(request, host=None):
    try:
        handle(request, host)
    except Refusal as error:
        return error.kind
    raise AssertionError("the request was accepted")


def text_event(message_id="1", user=USER, **extra):
    event = {"type": "message", "mode": "active", "timestamp": 1462629479859,
             "source": {"type": "user", "userId": user},
             "webhookEventId": "01FZ74A0TDDPYRVKNK77XKC3ZR", "deliveryContext": {"isRedelivery": False},
             "message": {"id": message_id, "type": "text", "text": "hi"}}
    event.update(extra)
    return event


def event_json(event):
    """An event in the conformance kit's JSON shape (host/src/conformance/cases.rs)."""
    identity = lambda i: {"kind": i.kind, "value": i.value, "verified": i.verified}  # noqa: E731
    if isinstance(event, Message):
        return {"type": "message-received", "external_id": event.external_id, "sender": identity(event.sender),
                "claims": [], "display_name": event.display_name, "text": event.text,
                "attachments": len(event.attachments), "thread_id": event.thread_id,
                "reply_to": event.reply_to, "references": [], "sent_at": event.sent_at}
    return {"type": "contact-profile", "subject": identity(event.subject),
            "display_name": event.display_name, "claims": []}


def matches(expected, actual):
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(k in actual and matches(v, actual[k]) for k, v in expected.items())
    return expected == actual


class RoutingTest(unittest.TestCase):
    def test_only_post_to_the_webhook_path(self):
        body = fixture("verification.json")
        self.assertEqual(refusal(signed(body, path="/")), "not-found")
        self.assertEqual(refusal(signed(body, path="/callback")), "not-found")
        self.assertEqual(refusal(signed(body, method="GET")), "unsupported")
        self.assertEqual(refusal(signed(body, method="DELETE")), "unsupported")
        self.assertEqual(handle(signed(body, path="/webhook/")).status, 200)

    def test_signature_is_checked_before_the_body(self):
        request = Request("POST", "/webhook", b"not json", [("x-line-signature", "forged")])
        self.assertEqual(refusal(request), "unauthorized")
        self.assertEqual(refusal(Request("POST", "/webhook", b"{}")), "unauthorized")
        self.assertEqual(refusal(signed(b"not json")), "bad-request")

    def test_a_missing_channel_secret_is_an_internal_error_naming_it(self):
        host = support.FakeHost(secrets={"channel_secret": "  "})
        with self.assertRaises(Refusal) as caught:
            handle(signed(fixture("message_text.json")), host)
        self.assertEqual(caught.exception.kind, "internal")
        self.assertIn("channel_secret", caught.exception.message)
        self.assertIn("error", [level for level, _ in host.logs])

    def test_a_secret_with_a_trailing_newline_still_verifies(self):
        host = support.FakeHost(secrets={"channel_secret": SECRET + "\n"})
        self.assertEqual(len(handle(signed(fixture("message_text.json")), host).events), 1)

    def test_signed_but_malformed_bodies_are_bad_requests(self):
        for body in [b"\xff\xfe{", b"", b"[]", b"null", b'{"events": {}}', b'{"destination": "x"}',
                     b"[" * 100_000 + b"]" * 100_000]:
            with self.subTest(body=body[:20]):
                self.assertEqual(refusal(signed(body)), "bad-request")


class NestingTest(unittest.TestCase):
    """Deep nesting is refused before the JSON parser recurses (a trap in wasm)."""

    def test_depth_counts_brackets_outside_strings_only(self):
        self.assertEqual(webhook.nesting_depth('{"events": []}'), 2)
        self.assertEqual(webhook.nesting_depth('{"text": "[[[[{{{{ \\" ]]]"}'), 1)
        self.assertEqual(webhook.nesting_depth("[" * 100_000), webhook.MAX_DEPTH + 1)
        self.assertEqual(webhook.nesting_depth('"unterminated [[[['), 0)

    def test_a_deep_body_is_a_bad_request_and_brackets_in_texts_are_fine(self):
        deep = b'{"events": ' + b"[" * 70 + b"]" * 70 + b"}"
        self.assertEqual(refusal(signed(deep)), "bad-request")
        brackets = text_event(message={"id": "1", "type": "text", "text": "[" * 5000 + "{" * 5000})
        [message] = handle(signed({"destination": "U1", "events": [brackets]})).events
        self.assertEqual(message.text, "[" * 5000 + "{" * 5000)
        ok = b'{"events": ' + b"[" * 63 + b"]" * 63 + b"}"
        self.assertEqual(handle(signed(ok)).events, [])


class EventTest(unittest.TestCase):
    def test_verification_request_gives_200_without_events(self):
        outcome = handle(signed(fixture("verification.json")))
        self.assertEqual((outcome.status, outcome.events), (200, []))

    def test_a_text_message(self):
        [message] = handle(signed(fixture("message_text.json"))).events
        self.assertEqual(message.external_id, "468789577898262530")
        self.assertEqual((message.sender.kind, message.sender.value, message.sender.verified),
                         ("channel-user", USER, True))
        self.assertEqual(message.text, "Can I reserve a table for dinner tonight?")
        self.assertEqual(message.sent_at, 1462629479859)
        self.assertIsNone(message.thread_id)
        self.assertEqual(message.attachments, [])

    def test_a_redelivery_keeps_the_message_id(self):
        first = handle(signed(fixture("message_text.json"))).events[0]
        again = handle(signed(fixture("message_text_redelivery.json"))).events[0]
        self.assertEqual(first.external_id, again.external_id)

    def test_group_messages_carry_the_group_as_thread(self):
        [message] = handle(signed(fixture("message_group_text.json"))).events
        self.assertEqual(message.thread_id, GROUP)
        self.assertEqual(message.sender.value, USER)
        room = text_event(source={"type": "room", "roomId": "Ra8dbf4673c4c812cd491258042226c99", "userId": USER})
        [message] = handle(signed({"destination": "U1", "events": [room]})).events
        self.assertEqual(message.thread_id, "Ra8dbf4673c4c812cd491258042226c99")

    def test_media_become_attachment_metadata_without_url(self):
        [image] = handle(signed(fixture("message_image.json"))).events
        self.assertEqual(image.text, "[image 1 of 2]")
        self.assertEqual([(a.content_type, a.url) for a in image.attachments], [("image/jpeg", None)])
        [file] = handle(signed(fixture("message_file.json"))).events
        self.assertEqual(file.text, "[file] file.txt")
        self.assertEqual([(a.name, a.size, a.content_type) for a in file.attachments],
                         [("file.txt", 2138, "application/octet-stream")])
        for kind, content_type in [("video", "video/mp4"), ("audio", "audio/mp4")]:
            event = text_event(message={"id": "9", "type": kind, "duration": 60000, "contentProvider": {"type": "line"}})
            [message] = handle(signed({"destination": "U1", "events": [event]})).events
            self.assertEqual((message.text, message.attachments[0].content_type), (f"[{kind}]", content_type))

    def test_external_content_keeps_its_https_url(self):
        provider = {"type": "external", "originalContentUrl": "https://example.com/original.jpg",
                    "previewImageUrl": "https://example.com/preview.jpg"}
        event = text_event(message={"id": "9", "type": "image", "contentProvider": provider})
        [message] = handle(signed({"destination": "U1", "events": [event]})).events
        self.assertEqual(message.attachments[0].url, "https://example.com/original.jpg")
        provider["originalContentUrl"] = "http://example.com/original.jpg"
        [message] = handle(signed({"destination": "U1", "events": [event]})).events
        self.assertIsNone(message.attachments[0].url)

    def test_stickers_and_locations_are_described(self):
        [sticker] = handle(signed(fixture("message_sticker.json"))).events
        self.assertEqual(sticker.text, "[sticker]")
        [location] = handle(signed(fixture("message_location.json"))).events
        self.assertEqual(location.text,
                         "[location] my location\n日本、〒102-8282 東京都千代田区紀尾井町1番3号\ngeo:35.67966,139.73669")
        bare = text_event(message={"id": "9", "type": "location", "latitude": 1.5, "longitude": -2})
        self.assertEqual(handle(signed({"destination": "U1", "events": [bare]})).events[0].text,
                         "[location] geo:1.5,-2")

    def test_follow_makes_the_user_known_and_unfollow_is_ignored(self):
        host = support.FakeHost.from_sample()
        [profile] = handle(signed(fixture("follow.json")), host).events
        self.assertIsInstance(profile, Profile)
        self.assertEqual((profile.subject.kind, profile.subject.value, profile.subject.verified),
                         ("channel-user", USER, True))
        outcome = handle(signed(fixture("unfollow.json")), host)
        self.assertEqual((outcome.status, outcome.events), (200, []))
        self.assertTrue(any(USER in line and "unfollow" in line for _, line in host.logs))

    def test_unusable_events_are_skipped_and_the_rest_kept(self):
        host = support.FakeHost.from_sample()
        outcome = handle(signed(fixture("batch_mixed.json")), host)
        self.assertEqual([e.external_id for e in outcome.events], ["468789577898262531", "468789577898262532"])
        self.assertEqual(outcome.events[1].text, "[sticker] Let's hang out this weekend!")
        self.assertEqual(outcome.events[1].reply_to, "461230966842064897")
        self.assertTrue(any("444573844083572739" in line and "userId" in line for _, line in host.logs))

    def test_odd_events_never_fail_the_webhook(self):
        odd = [
            None, 42, "message", [], {}, {"type": "message"}, {"type": "message", "message": "x"},
            text_event(message={"type": "text", "text": "no id"}),
            text_event(message={"id": "x" * 600, "type": "text", "text": "id too long"}),
            text_event(message={"id": "ok\u0000", "type": "text"}),
            text_event("2", user=None), text_event("3", user=""), text_event("4", user="U\n1"),
            text_event("5", user="U" * 300), text_event("6", source="user"),
            text_event("7", timestamp="yesterday"), text_event("8", timestamp=2**70),
            text_event(message={"id": "9", "type": "file", "fileName": 7, "fileSize": -1}),
            text_event(message={"id": "10", "type": "image", "imageSet": {"index": True, "total": "2"}}),
            text_event(message={"id": "11", "type": "location", "latitude": "x", "longitude": None}),
            text_event(message={"id": "12", "type": "text", "text": "\ud800 lone", "quotedMessageId": ["x"]}),
            text_event(message={"id": 13, "type": "brand-new-type"}),
            {"type": "follow", "source": {"type": "group", "groupId": GROUP}},
            {"type": "conformance.unknown", "data": {}},
        ]
        outcome = handle(signed({"destination": "U1", "events": odd}))
        self.assertEqual(outcome.status, 200)
        ids = [e.external_id for e in outcome.events]
        self.assertEqual(ids, ["7", "8", "9", "10", "11", "12", "13"])
        by_id = {e.external_id: e for e in outcome.events}
        self.assertIsNone(by_id["7"].sent_at)
        self.assertIsNone(by_id["8"].sent_at)
        self.assertEqual((by_id["9"].attachments[0].name, by_id["9"].attachments[0].size), (None, None))
        self.assertEqual(by_id["10"].text, "[image]")
        self.assertEqual(by_id["11"].text, "[location]")
        self.assertEqual(by_id["12"].text, "? lone")
        self.assertIsNone(by_id["12"].reply_to)
        self.assertEqual(by_id["13"].text, "[brand-new-type]")

    def test_texts_over_the_hosts_default_limit_are_cut(self):
        event = text_event(message={"id": "1", "type": "text", "text": "é" * 40_000})
        [message] = handle(signed({"destination": "U1", "events": [event]})).events
        self.assertLessEqual(len(message.text.encode("utf-8")), events.MAX_TEXT_BYTES)
        self.assertTrue(message.text.endswith("é…"))

    def test_convert_names_the_reason_of_a_skip(self):
        skipped = events.convert(text_event(user=None))
        self.assertIsInstance(skipped, events.Skipped)
        self.assertIn("userId", skipped.reason)


class ConformanceCasesTest(unittest.TestCase):
    """The webhook cases of fixtures/conformance, checked the way the kit does."""

    def test_every_case_gives_its_expected_status_and_events(self):
        cases = [p for p in sorted(support.CONFORMANCE.glob("*.json")) if not p.name.endswith(".send.json")]
        for path in cases:
            case = json.loads(path.read_text(encoding="utf-8"))
            r = case["request"]
            request = Request(method=r.get("method", "POST"), path=r["path"],
                              body=(path.parent / r["body_file"]).read_bytes(),
                              headers=[(k.lower(), v) for k, v in r.get("headers", {}).items()])
            with self.subTest(case=path.name):
                try:
                    outcome = handle(request)
                    status, actual = outcome.status, [event_json(e) for e in outcome.events]
                except Refusal as error:
                    status = {"bad-request": 400, "unauthorized": 401, "not-found": 404,
                              "unsupported": 405, "internal": 500}[error.kind]
                    actual = []
                self.assertEqual(status, case["expect"]["status"])
                expected = case["expect"].get("events")
                if expected is not None:
                    self.assertEqual(len(actual), len(expected), actual)
                    for e, a in zip(expected, actual):
                        self.assertTrue(matches(e, a), f"{a} does not match {e}")


if __name__ == "__main__":
    unittest.main()
