"""Push messages: the request, the retry key, and LINE's answers."""

import json
import unittest
import uuid

import support
from omni_line import response, send
from omni_line.model import Answer, Attachment, Identity, Outbound, SendFailure, TransportError

USER = "U4af4980629e3c2b5d7f1a8e6c0b9d3f2"
TOKEN = support.sample()["secrets"]["channel_access_token"]
PUSH = "https://api.line.me/v2/bot/message/push"


def ok(message_id="461230966842064897"):
    return Answer(200, [("content-type", "application/json")],
                  json.dumps({"sentMessages": [{"id": message_id, "quoteToken": "IStG5h1Tz7b..."}]}).encode())


def deliver(text="Your table is booked.", answers=None, recipient=None, host=None, message_id="msg-1",
            attachments=()):
    host = host or support.FakeHost.from_sample(answers if answers is not None else [ok()])
    receipt = send.deliver(host, Outbound(id=message_id, text=text, attachments=list(attachments)),
                           recipient or Identity("channel-user", USER))
    return receipt, host


def failure(**kwargs):
    try:
        deliver(**kwargs)
    except SendFailure as error:
        return error
    raise AssertionError("the send succeeded")


class RequestTest(unittest.TestCase):
    def test_a_push_with_bearer_token_json_and_retry_key(self):
        receipt, host = deliver()
        self.assertEqual(receipt.external_id, "461230966842064897")
        [request] = host.requests
        self.assertEqual((request["method"], request["url"]), ("POST", PUSH))
        self.assertEqual(request["headers"]["authorization"], f"Bearer {TOKEN}")
        self.assertEqual(request["headers"]["content-type"], "application/json")
        self.assertEqual(json.loads(request["body"]),
                         {"to": USER, "messages": [{"type": "text", "text": "Your table is booked."}]})
        key = request["headers"]["x-line-retry-key"]
        self.assertEqual(str(uuid.UUID(key)), key)
        self.assertEqual(uuid.UUID(key).version, 5)

    def test_the_retry_key_is_stable_per_message_and_distinct_across_messages(self):
        keys = []
        for message_id in ["msg-1", "msg-1", "msg-2"]:
            _, host = deliver(message_id=message_id)
            keys.append(host.requests[0]["headers"]["x-line-retry-key"])
        self.assertEqual(keys[0], keys[1])
        self.assertNotEqual(keys[0], keys[2])
        self.assertEqual(keys[0], send.retry_key("msg-1"))
        # Pinned: changing the namespace would make retries after an upgrade send twice.
        self.assertEqual(send.retry_key("msg-1"), str(uuid.uuid5(uuid.UUID("19c2b4e8-1601-4a53-8550-e620b3f50f20"), "msg-1")))

    def test_api_base_comes_from_the_config(self):
        host = support.FakeHost(config={"api_base": "http://127.0.0.1:8080/line/"},
                                secrets={"channel_access_token": TOKEN}, answers=[ok()])
        deliver(host=host)
        self.assertEqual(host.requests[0]["url"], "http://127.0.0.1:8080/line/v2/bot/message/push")
        host = support.FakeHost(secrets={"channel_access_token": TOKEN}, answers=[ok()])
        deliver(host=host)
        self.assertEqual(host.requests[0]["url"], PUSH)

    def test_text_is_sent_as_utf8_json(self):
        _, host = deliver(text="予約できました 🍎 \"quoted\"")
        body = host.requests[0]["body"]
        self.assertIn("予約できました 🍎".encode("utf-8"), body)
        self.assertEqual(json.loads(body)["messages"][0]["text"], "予約できました 🍎 \"quoted\"")

    def test_long_texts_become_up_to_five_text_objects(self):
        text = "\n".join(["line " * 900] * 5)  # 5 paragraphs of 4500 units
        _, host = deliver(text=text)
        sent = json.loads(host.requests[0]["body"])["messages"]
        self.assertEqual(len(sent), 5)
        self.assertTrue(all(m["type"] == "text" and len(m["text"]) <= 5000 for m in sent))

    def test_texts_longer_than_one_push_fail_permanently_before_sending(self):
        for text in ["x" * 25_001, "word " * 5100]:
            host = support.FakeHost.from_sample([ok()])
            error = failure(text=text, host=host)
            self.assertFalse(error.retryable)
            self.assertIn("5", error.message)
            self.assertEqual(host.requests, [])

    def test_attachments_images_inline_others_as_links(self):
        _, host = deliver(text="Here you go", attachments=[
            Attachment("image/png", name="map.png", url="https://example.com/map.png"),
            Attachment("application/pdf", name="menu.pdf", url="https://example.com/menu.pdf"),
        ])
        sent = json.loads(host.requests[0]["body"])["messages"]
        self.assertEqual(sent, [
            {"type": "text", "text": "Here you go\nmenu.pdf: https://example.com/menu.pdf"},
            {"type": "image", "originalContentUrl": "https://example.com/map.png",
             "previewImageUrl": "https://example.com/map.png"},
        ])
        error = failure(attachments=[Attachment("application/pdf", name="a.pdf", url="ftp://x/a.pdf")])
        self.assertFalse(error.retryable)
        self.assertIn("a.pdf", error.message)

    def test_recipients_must_be_line_user_ids(self):
        for recipient in [Identity("phone", "+14155550100"), Identity("email", "a@b.c"),
                          Identity("channel-user", ""), Identity("channel-user", "not an id"),
                          Identity("channel-user", "U1/../../v2/bot/info")]:
            with self.subTest(recipient=recipient):
                host = support.FakeHost.from_sample([ok()])
                self.assertFalse(failure(recipient=recipient, host=host).retryable)
                self.assertEqual(host.requests, [])

    def test_nothing_to_send_and_missing_token_are_permanent(self):
        self.assertIn("no text", failure(text="  \n").message)
        host = support.FakeHost(secrets={})
        error = failure(host=host)
        self.assertFalse(error.retryable)
        self.assertIn("channel_access_token", error.message)
        host = support.FakeHost(secrets={"channel_access_token": "tok\nen"})
        self.assertFalse(failure(host=host).retryable)


class AnswerTest(unittest.TestCase):
    def test_accepted_pushes(self):
        self.assertEqual(deliver(answers=[ok("1")])[0].external_id, "1")
        # No readable id: the retry key stands in (it identifies the push).
        for body in [b"{}", b"", b"garbage", b'{"sentMessages": []}', b'{"sentMessages": [{"id": ""}]}']:
            receipt, _ = deliver(answers=[Answer(200, [], body)])
            self.assertEqual(receipt.external_id, send.retry_key("msg-1"))

    def test_an_already_accepted_retry_key_counts_as_sent(self):
        body = (support.FIXTURES / "error_retry_key_accepted.json").read_bytes()
        answer = Answer(409, [("x-line-accepted-request-id", "123e4567-e89b-12d3-a456-426614174000")], body)
        self.assertEqual(deliver(answers=[answer])[0].external_id, "461230966842064897")
        answer = Answer(409, [("x-line-accepted-request-id", "abc")], b"{}")
        self.assertEqual(deliver(answers=[answer])[0].external_id, send.retry_key("msg-1"))
        self.assertFalse(failure(answers=[Answer(409, [], b'{"message": "Conflict"}')]).retryable)

    def test_rate_limits_and_server_errors_are_retryable(self):
        body = (support.FIXTURES / "error_rate_limit.json").read_bytes()
        error = failure(answers=[Answer(429, [("retry-after", "30")], body)])
        self.assertTrue(error.retryable)
        self.assertEqual(error.after_ms, 30_000)
        self.assertIn("rate limit has been exceeded", error.message)
        for status in [500, 502, 503, 504]:
            error = failure(answers=[Answer(status, [], b"<html>Bad Gateway</html>")])
            self.assertTrue(error.retryable, status)
            self.assertIsNone(error.after_ms)

    def test_other_client_errors_are_permanent_with_lines_message(self):
        body = (support.FIXTURES / "error_invalid_request.json").read_bytes()
        error = failure(answers=[Answer(400, [], body)])
        self.assertFalse(error.retryable)
        self.assertIn("The request body has 2 error(s)", error.message)
        self.assertIn("messages[0].text: May not be empty", error.message)
        for status in [401, 403, 404, 408, 413, 301]:
            self.assertFalse(failure(answers=[Answer(status, [], b'{"message": "no"}')]).retryable, status)
        self.assertIn("channel_access_token", failure(answers=[Answer(401, [], b"{}")]).message)

    def test_retry_after(self):
        self.assertEqual(response.retry_after_ms("7"), 7000)
        self.assertEqual(response.retry_after_ms(" 0 "), 0)
        self.assertEqual(response.retry_after_ms("999999999999999999999999"), 86_400_000)
        for value in [None, "", "soon", "-1", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "٣"]:
            self.assertIsNone(response.retry_after_ms(value), value)

    def test_transport_errors(self):
        for kind, retryable in [("timeout", True), ("unreachable", True), ("too-large", True),
                                ("denied", False), ("invalid", False)]:
            error = failure(answers=[TransportError(kind, f"https://api.line.me failed with {TOKEN}")])
            self.assertEqual(error.retryable, retryable, kind)
            self.assertNotIn(TOKEN, error.message)


class ConformanceSendCasesTest(unittest.TestCase):
    """The send cases of fixtures/conformance, checked the way the kit does."""

    def test_every_send_case(self):
        for path in sorted(support.CONFORMANCE.glob("*.send.json")):
            case = json.loads(path.read_text(encoding="utf-8"))
            answers = [Answer(a["status"], list(a.get("headers", {}).items()),
                              (path.parent / a["body_file"]).read_bytes() if "body_file" in a
                              else a.get("body", "").encode()) for a in case["answers"]]
            host = support.FakeHost.from_sample(answers)
            recipient = Identity(case["recipient"]["kind"], case["recipient"]["value"])
            message = Outbound(id=case["message"]["id"], text=case["message"]["text"])
            with self.subTest(case=path.name):
                expect = case["expect"]
                try:
                    receipt = send.deliver(host, message, recipient)
                    self.assertNotIn("error", expect)
                    self.assertEqual(receipt.external_id, expect["receipt"]["external_id"])
                except SendFailure as error:
                    self.assertEqual("retryable" if error.retryable else "permanent", expect.get("error"),
                                     error.message)
                requests = [{"method": r["method"], "url": r["url"]} for r in host.requests]
                self.assertEqual(requests, expect["requests"])


if __name__ == "__main__":
    unittest.main()
