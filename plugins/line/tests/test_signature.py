"""x-line-signature: base64(HMAC-SHA256(channel secret, raw body))."""

import json
import unittest

import support
from omni_line import signature
from omni_line.model import Refusal

SECRET = "conformance-channel-secret"
BODY = b'{"destination":"Ub1c7e8f0a2d94c6b8e3f5a7d9c1e2b40","events":[]}'
# Computed independently: printf '%s' BODY | openssl dgst -sha256 -hmac SECRET -binary | base64
EXPECTED = "DaZhPvUmbusdDMA2KBetjs3H8XhpSrtqc0c8j2x2nB8="


class SignatureTest(unittest.TestCase):
    def test_matches_an_independently_computed_signature(self):
        self.assertEqual(signature.sign(SECRET, BODY), EXPECTED)
        signature.verify(SECRET, BODY, EXPECTED)

    def test_missing_and_wrong_signatures_are_unauthorized(self):
        for given in [None, "", "   ", EXPECTED[:-2] + "A=", EXPECTED.lower(), EXPECTED + "x",
                      signature.sign("other-secret", BODY), signature.sign(SECRET, BODY + b" "),
                      "ünïcödé", "\ud800", "a" * 10_000]:
            with self.subTest(given=given):
                with self.assertRaises(Refusal) as caught:
                    signature.verify(SECRET, BODY, given)
                self.assertEqual(caught.exception.kind, "unauthorized")

    def test_the_signature_covers_the_exact_bytes(self):
        reformatted = json.dumps(json.loads(BODY)).encode()
        self.assertNotEqual(reformatted, BODY)
        with self.assertRaises(Refusal):
            signature.verify(SECRET, reformatted, EXPECTED)

    def test_conformance_cases_are_signed_with_the_sample_secret(self):
        secret = support.sample()["secrets"]["channel_secret"]
        cases = [p for p in sorted(support.CONFORMANCE.glob("*.json")) if not p.name.endswith(".send.json")]
        self.assertGreater(len(cases), 5)
        for path in cases:
            case = json.loads(path.read_text(encoding="utf-8"))
            body = (path.parent / case["request"]["body_file"]).read_bytes()
            given = case["request"]["headers"]["x-line-signature"]
            with self.subTest(case=path.name):
                if case["expect"]["status"] == 401:
                    self.assertNotEqual(given, signature.sign(secret, body))
                else:
                    self.assertEqual(given, signature.sign(secret, body),
                                     f"re-sign {path.name}: {signature.sign(secret, body)}")


if __name__ == "__main__":
    unittest.main()
