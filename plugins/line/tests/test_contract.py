"""The component's entry points against bindings generated from the WIT.

These run `app.Connector` in CPython with the `host` imports replaced by
fakes, so the conversion to and from the WIT types is tested, and so is the
rule that no exception escapes (it would trap in the host). They need
componentize-py to generate the bindings (build.sh passes it in
COMPONENTIZE_PY); without it they are skipped, saying so.
"""

import json
import unittest

import support
from omni_line import signature

BINDINGS = support.bindings()
SKIP = "componentize-py not found (set COMPONENTIZE_PY, put it on PATH, or run build.sh)"

if BINDINGS:
    from componentize_py_types import Err
    from wit_world.imports import host as wit_host
    from wit_world.imports import types

    import app
    from omni_line import manifest

USER = "U4af4980629e3c2b5d7f1a8e6c0b9d3f2"


@unittest.skipUnless(BINDINGS, SKIP)
class ContractTest(unittest.TestCase):
    def setUp(self):
        tables = support.sample()
        self.config = dict(tables["config"])
        self.secrets = dict(tables["secrets"])
        self.answers = []
        self.requests = []
        self.logs = []
        self.saved = {name: getattr(wit_host, name) for name in ["config_get", "secret_get", "log", "http_send"]}
        wit_host.config_get = lambda key: json.dumps(self.config[key]) if key in self.config else None
        wit_host.secret_get = lambda name: self.secrets.get(name)
        wit_host.log = lambda level, message: self.logs.append((level, message))
        wit_host.http_send = self.http_send
        self.connector = app.Connector()

    def tearDown(self):
        for name, function in self.saved.items():
            setattr(wit_host, name, function)

    def http_send(self, request):
        self.assertIsInstance(request, types.OutgoingRequest)
        self.requests.append(request)
        if not self.answers:
            return types.IncomingResponse(status=503, headers=[], body=b"")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def webhook(self, body, method="POST", path="/webhook", sign=True):
        headers = [types.Header("content-type", "application/json")]
        if sign:
            headers.append(types.Header("x-line-signature", signature.sign(self.secrets["channel_secret"], body)))
        return self.connector.handle_webhook(
            types.HttpRequest(method=method, path=path, query="", headers=headers, body=body))

    def refused(self, call):
        with self.assertRaises(Err) as caught:
            call()
        return caught.exception.value

    def send(self, text="Hello", kind=None, value=USER, message_id="msg-1"):
        message = types.OutboundMessage(id=message_id, conversation_id="c-1", text=text, attachments=[],
                                        reply_to=None, thread_id=None)
        recipient = types.Identity(kind=kind or types.IdentityKind.CHANNEL_USER, value=value, verified=False)
        return self.connector.send(message, recipient)

    def test_manifest(self):
        m = self.connector.manifest()
        self.assertEqual((m.id, m.kind, m.version), ("line", types.ChannelKind.OTHER, manifest.VERSION))
        self.assertEqual(m.capabilities.secrets, ["channel_secret", "channel_access_token"])
        self.assertEqual(m.capabilities.outbound_hosts, ["api.line.me"])
        self.assertFalse(m.capabilities.kv)
        self.assertIsNone(m.capabilities.poll_interval_ms)
        schema = json.loads(m.config_schema)
        self.assertIs(schema["additionalProperties"], False)
        self.assertTrue(all(isinstance(p.get("description"), str) for p in schema["properties"].values()))
        self.assertEqual(set(schema["properties"]), set(self.config))

    def test_webhook_events_become_wit_events(self):
        body = (support.FIXTURES / "message_group_text.json").read_bytes()
        outcome = self.webhook(body)
        self.assertIsInstance(outcome, types.WebhookOutcome)
        self.assertEqual(outcome.response.status, 200)
        [event] = outcome.events
        self.assertIsInstance(event, types.Event_MessageReceived)
        message = event.value
        self.assertEqual(message.external_id, "444573844083572737")
        self.assertEqual(message.sender, types.Identity(types.IdentityKind.CHANNEL_USER, USER, True))
        self.assertEqual((message.thread_id, message.sent_at, message.claims, message.references),
                         ("Ca56f94637cc4347f90a25382909b24b9", 1625665242211, [], []))
        [profile] = self.webhook((support.FIXTURES / "follow.json").read_bytes()).events
        self.assertIsInstance(profile, types.Event_ContactProfile)
        self.assertEqual(profile.value.subject.value, USER)
        [file] = self.webhook((support.FIXTURES / "message_file.json").read_bytes()).events
        self.assertEqual(file.value.attachments,
                         [types.Attachment(name="file.txt", content_type="application/octet-stream", size=2138, url=None)])

    def test_refusals_become_plugin_errors(self):
        body = (support.FIXTURES / "message_text.json").read_bytes()
        self.assertIsInstance(self.refused(lambda: self.webhook(body, sign=False)), types.PluginError_Unauthorized)
        self.assertIsInstance(self.refused(lambda: self.webhook(body, method="GET")), types.PluginError_Unsupported)
        self.assertIsInstance(self.refused(lambda: self.webhook(body, path="/x")), types.PluginError_NotFound)
        self.assertIsInstance(self.refused(lambda: self.webhook(b"\xff")), types.PluginError_BadRequest)
        self.secrets.pop("channel_secret")  # checked before the signature: the operator's mistake
        self.assertIsInstance(self.refused(lambda: self.webhook(body, sign=False)), types.PluginError_Internal)

    def test_a_bug_becomes_an_internal_error_not_an_exception(self):
        wit_host.secret_get = lambda name: 1 / 0
        error = self.refused(lambda: self.webhook(b"{}"))
        self.assertIsInstance(error, types.PluginError_Internal)
        self.assertIn("ZeroDivisionError", error.value)
        error = self.refused(lambda: self.send())
        self.assertIsInstance(error, types.SendError_Permanent)

    def test_send_receipts_and_errors(self):
        body = (support.FIXTURES / "push_ok.json").read_bytes()
        self.answers = [types.IncomingResponse(200, [types.Header("content-type", "application/json")], body)]
        receipt = self.send()
        self.assertEqual(receipt, types.SendReceipt("461230966842064897", types.DeliveryState.SENT))
        [request] = self.requests
        self.assertEqual((request.method, request.url), ("POST", "https://api.line.me/v2/bot/message/push"))
        headers = {h.name: h.value for h in request.headers}
        self.assertEqual(headers["x-line-retry-key"], __import__("omni_line.send").send.retry_key("msg-1"))

        self.answers = [types.IncomingResponse(429, [types.Header("retry-after", "12")], b"{}")]
        error = self.refused(self.send)
        self.assertIsInstance(error, types.SendError_Retryable)
        self.assertEqual(error.value.after_ms, 12_000)

        self.answers = [Err(types.HttpError_Timeout("deadline"))]
        self.assertIsInstance(self.refused(self.send), types.SendError_Retryable)
        self.answers = [Err(types.HttpError_Denied("api.line.me not allowed"))]
        self.assertIsInstance(self.refused(self.send), types.SendError_Permanent)
        self.assertIsInstance(self.refused(lambda: self.send(kind=types.IdentityKind.PHONE)),
                              types.SendError_Permanent)

    def test_poll_is_unsupported(self):
        self.assertIsInstance(self.refused(lambda: self.connector.poll(None)), types.PluginError_Unsupported)

    def test_odd_input_never_raises_anything_but_err(self):
        bodies = [b"", b"\x00", b"{}", b'{"events": [1, "x", null]}', b"\xff\xfe", b"a" * (1 << 20),
                  b"[" * 50_000, json.dumps({"events": [{"type": "message", "message": {"id": "\ud800"}}]}).encode()]
        for body in bodies:
            for sign in (True, False):
                for method in ("POST", "DELETE"):
                    try:
                        outcome = self.webhook(body, method=method, sign=sign)
                        self.assertLess(outcome.response.status, 500)
                    except Err as error:
                        self.assertNotIsInstance(error.value, types.PluginError_Internal, error.value)
        answers = [types.IncomingResponse(200, [], b'{"unexpected": [1, 2'),
                   types.IncomingResponse(429, [types.Header("retry-after", "soon")], b""),
                   types.IncomingResponse(200, [], b"{}"),
                   types.IncomingResponse(409, [], b"")]
        for answer in answers:
            for kind in types.IdentityKind:
                for value in ["", "not an address", "+0", "webchat:v-1", USER]:
                    for text in ["", "x" * 100_000, "\u0000\u001b[31m<b>&</b>"]:
                        self.answers = [answer]
                        try:
                            self.send(text=text, kind=kind, value=value)
                        except Err as error:
                            self.assertIsInstance(error.value, (types.SendError_Retryable, types.SendError_Permanent))


if __name__ == "__main__":
    unittest.main()
