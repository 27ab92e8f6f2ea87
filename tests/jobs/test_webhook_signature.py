from __future__ import annotations

from typing import Any

import pytest

from jobs.errors import SignatureError, SignatureHeaderError
from jobs.webhooks import signature
from jobs.webhooks.signature import MAX_PAIRS, parse_header, sign, signature_header, verify

# The public vector (ResearchHub test_persona_webhook_view.py, test_create_digest).
PUBLIC_SECRET = "wbhsec_researchhub"
PUBLIC_HEADER = "t=1720713905,v1=0fd4586aa5cb67c098a920ed55906fb2669a2bb21c6ed2de58e4f5cfb79814c7"
PUBLIC_NEGATIVE = "t=1720448965,v1=aaabbb2356a65fd3a1734457430a1a2fe0c566349e0d472c45cb9281a7d3b68d"

ROTATION_BODY = (
    b'{"data":{"type":"event","id":"evt_test","attributes":{"name":"inquiry.approved",'
    b'"payload":{"data":{"type":"inquiry","id":"inq_test","attributes":{"status":"approved",'
    b'"reference-id":"user_1"}}},"created-at":"2025-12-02T14:47:06.000Z"}}}'
)
ROTATION_HEADER = (
    "t=1764686826,v1=01ca461e2b71976adcefb6f4a6a77d68c4c11f8faed1473f35290878880e091d "
    "t=1764686826,v1=b70cfb22f73f6db58d700f040bf8c99bcfb29396ff4a113b5b5d280127424188"
)


def test_public_vector_signs_as_published() -> None:
    expected = "0fd4586aa5cb67c098a920ed55906fb2669a2bb21c6ed2de58e4f5cfb79814c7"
    assert sign(PUBLIC_SECRET, 1720713905, b"abc123") == expected


def test_public_vector_verifies() -> None:
    pair = verify(PUBLIC_HEADER, b"abc123", [PUBLIC_SECRET], now=1720713905)
    assert pair.timestamp == 1720713905


def test_public_negative_vector_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(PUBLIC_NEGATIVE, b"abc123", [PUBLIC_SECRET], now=1720713905)


def test_malformed_public_example_is_refused() -> None:
    with pytest.raises(SignatureHeaderError, match="malformed"):
        verify("INVALID_FORMAT", b"abc123", [PUBLIC_SECRET], now=0)


@pytest.mark.parametrize("secret", ["wbhsec_new_secret", "wbhsec_old_secret"])
def test_rotation_header_verifies_with_either_secret_alone(secret: str) -> None:
    verify(ROTATION_HEADER, ROTATION_BODY, [secret], now=1764686826)


def test_rotation_with_several_configured_secrets() -> None:
    verify(ROTATION_HEADER, ROTATION_BODY, ["wbhsec_other", "wbhsec_old_secret"], now=1764686826)


def test_reserialised_body_does_not_verify() -> None:
    raw = b'{"data": {"attributes": {"score": 96.18315124511720}}}'
    header = "t=1764686826,v1=5e9266df079535f0f264f5b49c914f070882b8392f466c28cbcb69a2a96df3f8"
    verify(header, raw, ["wbhsec_new_secret"], now=1764686826)
    reserialised = b'{"data":{"attributes":{"score":96.1831512451172}}}'
    with pytest.raises(SignatureError):
        verify(header, reserialised, ["wbhsec_new_secret"], now=1764686826)


def test_each_pair_is_checked_with_its_own_timestamp() -> None:
    body = b"{}"
    good = f"t=200,v1={sign('wbhsec_a', 200, body)}"
    mixed_timestamp = f"t=100,v1={sign('wbhsec_a', 200, body)}"
    verify(f"{mixed_timestamp} {good}", body, ["wbhsec_a"], now=200)
    with pytest.raises(SignatureError):
        verify(mixed_timestamp, body, ["wbhsec_a"], now=200)


def test_tolerance_refuses_stale_signatures_when_set() -> None:
    header = signature_header(["wbhsec_a"], 1000, b"x")
    verify(header, b"x", ["wbhsec_a"], now=5000, tolerance_s=0)
    verify(header, b"x", ["wbhsec_a"], now=1200, tolerance_s=300)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(header, b"x", ["wbhsec_a"], now=1301, tolerance_s=300)


def test_missing_header_and_missing_secrets_are_refused() -> None:
    with pytest.raises(SignatureHeaderError, match="missing"):
        verify(None, b"x", ["wbhsec_a"], now=0)
    with pytest.raises(SignatureError, match="no webhook secret"):
        verify(signature_header(["wbhsec_a"], 1, b"x"), b"x", [], now=1)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1",
        "v1=abc",
        "t=abc,v1=" + "0" * 64,
        "t=-5,v1=" + "0" * 64,
        "t=1,v1=",
        "t=1;v1=" + "0" * 64,
        "x" * 5000,
        " ".join(["t=1,v1=" + "0" * 64] * 9),
        "t=\u00b2,v1=" + "0" * 64,
        "t=\u0661\u0662,v1=" + "0" * 64,
        "t=1,t=2,v1=" + "0" * 64,
        "t=1,v1=" + "0" * 64 + ",v1=" + "1" * 64,
    ],
    ids=[
        "empty",
        "no-v1",
        "no-t",
        "t-letters",
        "t-negative",
        "v1-empty",
        "semicolon",
        "too-long",
        "nine-sets",
        "t-superscript-two",
        "t-arabic-indic-digits",
        "t-twice",
        "v1-twice",
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(SignatureHeaderError):
        parse_header(header)


def test_a_header_with_more_sets_than_a_rotation_needs_is_refused() -> None:
    body = b"{}"
    pairs = [f"t={100 + index},v1={sign('wbhsec_a', 100 + index, body)}" for index in range(8)]
    with pytest.raises(SignatureHeaderError, match=f"more than {MAX_PAIRS} signatures"):
        verify(" ".join(pairs), body, ["wbhsec_a"], now=100)


def test_the_most_sets_allowed_are_still_checked() -> None:
    body = b"{}"
    forged = [f"t={index},v1={'0' * 64}" for index in range(MAX_PAIRS - 1)]
    header = " ".join([*forged, f"t=7,v1={sign('wbhsec_a', 7, body)}"])
    assert verify(header, body, ["wbhsec_a"], now=7).timestamp == 7


def test_sets_sharing_a_timestamp_cost_one_hmac_per_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, int]] = []

    def counted(secret: str, timestamp: int, body: bytes) -> str:
        calls.append((secret, timestamp))
        return sign(secret, timestamp, body)

    monkeypatch.setattr(signature, "sign", counted)
    header = " ".join(f"t=50,v1={str(index) * 64}" for index in range(MAX_PAIRS))

    with pytest.raises(SignatureError):
        verify(header, b"x" * 1_000, ["wbhsec_a", "wbhsec_b"], now=50)
    assert sorted(calls) == [("wbhsec_a", 50), ("wbhsec_b", 50)]


def test_a_set_whose_signature_is_not_hex_costs_no_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    def counted(*args: Any) -> str:
        calls.append(args)
        return ""

    monkeypatch.setattr(signature, "sign", counted)
    with pytest.raises(SignatureError):
        verify("t=1,v1=xyz t=2,v1=" + "g" * 64, b"x", ["wbhsec_a"], now=1)
    assert calls == []


def test_non_hex_or_short_signatures_never_match() -> None:
    body = b"x"
    real = sign("wbhsec_a", 5, body)
    for forged in (real[:-1], real.upper() + "0", "g" * 64, real + real):
        with pytest.raises(SignatureError):
            verify(f"t=5,v1={forged}", body, ["wbhsec_a"], now=5)
