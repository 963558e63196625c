"""Property tests: payload parsing, phone normalisation and webhook signatures on arbitrary input."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import phonenumbers
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import event as note
from hypothesis import strategies as st

from agentic_memory.bootstrap import build, local_engine
from agentic_memory.domain.facts import RuleFactExtractor
from agentic_memory.domain.phone import normalise_phone
from agentic_memory.elevenlabs import builders, payloads
from agentic_memory.elevenlabs.signature import sign, verify
from agentic_memory.errors import InvalidInput, Unauthorized
from agentic_memory.http.app import create_app
from agentic_memory.ports import Job
from agentic_memory.services.process_call import WorkerDeps, process_job
from agentic_memory.testing import FixedClock, HashEmbedder, InMemoryBlobStore, InMemoryMemoryStore
from tests.conftest import HMAC_KEY, make_settings

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TOLERANCE = 1800
NOW = 1_767_225_732
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(text, inner, max_size=5), max_leaves=30)
# Shapes close to real webhooks, so the generator also reaches the 200 path and the worker.
known_keys = st.sampled_from(["conversation_id", "agent_id", "transcript", "analysis", "metadata", "full_audio",
                              "status", "user_id", "conversation_initiation_client_data", "caller_id"])
turns = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "agent", "assistant", "x"]) | json_values,
                                        "message": text | json_values}), max_size=4)
ids = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30) | json_values
data_like = st.builds(lambda extra, cid, audio: {**extra, "conversation_id": cid, "full_audio": audio},
                      st.dictionaries(known_keys, json_values | turns, max_size=6), ids,
                      st.sampled_from(["SUQzBAAA", "", "not base64!", "QUJD\nREVG"]) | json_values)
envelopes = st.fixed_dictionaries({
    "type": st.sampled_from(payloads.EVENT_TYPES) | json_values,
    "data": data_like | json_values,
    "event_timestamp": json_values})
seed_like = st.dictionaries(known_keys, json_values | turns, max_size=6)
REAL = builders.transcription(conversation_id="conv_real", caller="+14155550123", start_time=NOW - 60,
                              turns=[("agent", "Hello"), ("user", "My name is Dana, I prefer email.")],
                              summary="Dana prefers email.", data={"caller_name": "Dana"})


@st.composite
def mutated_real(draw: st.DrawFn) -> dict[str, Any]:
    """A real transcription webhook with a few fields (at any depth) replaced by arbitrary JSON."""
    payload = json.loads(json.dumps(REAL))
    for _ in range(draw(st.integers(1, 4))):
        node: Any = payload
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], (dict, list)) or not draw(st.booleans()):
                node[key] = draw(json_values | turns)
                break
            node = node[key] if isinstance(node[key], dict) else {str(i): v for i, v in enumerate(node[key])}
    return payload


any_payload = json_values | envelopes | seed_like | mutated_real()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    deps = build(make_settings(tmp_path_factory.mktemp("props") / "data"), embedder=HashEmbedder(),
                 with_worker=False)
    with TestClient(create_app(deps), raise_server_exceptions=False) as test_client:
        yield test_client
    deps.close()


def _worker_deps() -> WorkerDeps:
    store = InMemoryMemoryStore()
    return WorkerDeps(store=store, blobs=InMemoryBlobStore(), engine=local_engine(store, HashEmbedder()),
                      extractor=RuleFactExtractor(), clock=FixedClock())


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(payload=any_payload)
@example(payload={"type": "post_call_audio", "data": {"conversation_id": "c", "full_audio": "!!"}})
def test_any_signed_json_is_200_or_400_and_any_accepted_job_is_done_or_dead_lettered(client, payload: Any):
    raw = json.dumps(payload).encode()
    response = client.post("/post-call", content=raw,
                           headers={"ElevenLabs-Signature": sign(raw, HMAC_KEY), "Content-Type": "application/json"})
    assert response.status_code in (200, 400), response.text
    note(f"HTTP {response.status_code}")
    assert ("error" in response.json()) == (response.status_code == 400)
    if response.status_code == 200:
        event = payloads.parse_event(raw)
        job = Job(1, event.type, event.conversation_id, raw, 1, datetime.now(UTC))
        # The worker either finishes the job or dead-letters it at once (InvalidInput); any other exception
        # would mean pointless retries.
        with contextlib.suppress(InvalidInput):
            process_job(job, _worker_deps())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(payload=any_payload)
def test_parsing_any_json_gives_an_event_and_conversation_or_invalid_input(payload: Any):
    raw = json.dumps(payload).encode()
    try:
        event = payloads.parse_event(raw)
    except InvalidInput:
        return
    assert event.conversation_id
    assert len(event.conversation_id) <= payloads.MAX_ID_LENGTH
    try:
        conversation = payloads.parse_conversation(event, default_region="US", received_at=datetime.now(UTC))
    except InvalidInput:
        return
    assert conversation.conversation_id == event.conversation_id
    assert conversation.caller_id is None or E164.match(conversation.caller_id)
    assert all(isinstance(t.text, str) and t.text for t in conversation.turns)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
@example(raw=b"[" * 100_000)
@example(raw=b'{"a":' * 70 + b"1" + b"}" * 70)
def test_parsing_arbitrary_bytes_never_raises_anything_but_invalid_input(raw: bytes):
    with contextlib.suppress(InvalidInput):
        payloads.parse_event(raw)


phone_chars = st.text(alphabet="0123456789+()-. /", max_size=24)


@st.composite
def formatted_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["US", "GB", "DE", "FR", "ES", "IN", "BR", "JP", "AU", "MX"]))
    example_number = phonenumbers.example_number(region)
    digits = draw(st.text(alphabet="0123456789", min_size=2, max_size=2))
    national = str(example_number.national_number)[:-2] + digits
    number = phonenumbers.parse(f"+{example_number.country_code}{national}")
    fmt = draw(st.sampled_from([phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                                phonenumbers.PhoneNumberFormat.RFC3966]))
    return phonenumbers.format_number(number, fmt)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(raw=phone_chars | formatted_numbers() | text, region=st.sampled_from(["US", "GB", "DE", "IN"]))
@example(raw="(415) 555-0123", region="US")
@example(raw="sip:+14155550123@sip.example.com;transport=tls", region="US")
@example(raw="0044 20 7946 0018", region="US")
def test_phone_normalisation_is_e164_and_idempotent(raw: str, region: str):
    try:
        once = normalise_phone(raw, region)
    except InvalidInput:
        return
    assert E164.match(once), once
    assert normalise_phone(once, region) == once
    assert normalise_phone(once, "US") == once  # an E.164 number no longer depends on the default region


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.sampled_from(["+1 {a}-{b}-{c}", "1 ({a}) {b}-{c}", "({a}) {b}-{c}", "{a}.{b}.{c}", "+1{a}{b}{c}",
                        "tel:+1-{a}-{b}-{c}", "sip:+1{a}{b}{c}@pbx.example.com", "001 {a} {b} {c}"]),
       st.integers(200, 999).filter(lambda n: n % 100 != 11), st.integers(200, 999), st.integers(0, 9999))
def test_every_common_format_of_one_number_is_one_caller(template: str, area: int, exchange: int, line: int):
    raw = template.format(a=area, b=exchange, c=f"{line:04d}")
    assert normalise_phone(raw, "US") == f"+1{area}{exchange}{line:04d}"


bodies = st.binary(min_size=1, max_size=300)
secrets = st.text(st.characters(exclude_categories=("Cs",)), min_size=16, max_size=64)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(body=bodies, secret=secrets, skew=st.integers(-TOLERANCE, TOLERANCE), data=st.data())
def test_signatures_reject_any_changed_byte(body: bytes, secret: str, skew: int, data: st.DataObject):
    header = sign(body, secret, NOW + skew)
    verify(body, header, [secret], tolerance_secs=TOLERANCE, now=NOW)  # the untouched body passes
    index = data.draw(st.integers(0, len(body) - 1))
    flipped = (body[index] + data.draw(st.integers(1, 255))) % 256
    tampered = body[:index] + bytes([flipped]) + body[index + 1:]
    with pytest.raises(Unauthorized):
        verify(tampered, header, [secret], tolerance_secs=TOLERANCE, now=NOW)
    extra = data.draw(st.binary(min_size=1, max_size=4))
    for variant in (body + extra, extra + body, body[:-1]):
        if variant != body:
            with pytest.raises(Unauthorized):
                verify(variant, header, [secret], tolerance_secs=TOLERANCE, now=NOW)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(body=bodies, secret=secrets, other=secrets)
def test_signatures_reject_a_wrong_key(body: bytes, secret: str, other: str):
    near = secret[:-1] + chr(ord(secret[-1]) ^ 1)  # one bit off
    for wrong in {other if other != secret else other + "x", near, secret + " ", secret.upper() + "\u00e9"}:
        with pytest.raises(Unauthorized):
            verify(body, sign(body, wrong, NOW), [secret], tolerance_secs=TOLERANCE, now=NOW)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(body=bodies, secret=secrets, beyond=st.integers(1, 10**9), future=st.booleans())
def test_signatures_reject_stale_and_future_timestamps(body: bytes, secret: str, beyond: int, future: bool):
    timestamp = NOW + TOLERANCE + beyond if future else NOW - TOLERANCE - beyond
    assume(timestamp >= 0)
    with pytest.raises(Unauthorized):
        verify(body, sign(body, secret, timestamp), [secret], tolerance_secs=TOLERANCE, now=NOW)


def _mutations(header: str) -> list[str]:
    t_part, v_part = header.split(",")
    return ["", " ", ",", "t=,v0=", t_part, v_part, f"{t_part}, {v_part}", f"{t_part};{v_part}",
            f"{t_part},v1={v_part[3:]}", f"{t_part},v0={v_part[3:].upper()}", f"{t_part},v0={v_part[3:-1]}",
            f"t=-{t_part[2:]},{v_part}", f"t={t_part[2:]}.0,{v_part}", f"t=٣{t_part[3:]},{v_part}",
            f"T={t_part[2:]},{v_part}", f"{t_part},V0={v_part[3:]}", header + "0", header * 40]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(body=bodies, secret=secrets, junk=st.text(max_size=200))
def test_signatures_reject_malformed_headers(body: bytes, secret: str, junk: str):
    header = sign(body, secret, NOW)
    for bad in [junk, *_mutations(header)]:
        if bad == header:
            continue
        with pytest.raises(Unauthorized):
            verify(body, bad, [secret], tolerance_secs=TOLERANCE, now=NOW)


def test_over_http_every_signature_failure_is_a_json_401(client):
    payload = {"type": "post_call_audio", "data": {"conversation_id": "conv_sig", "full_audio": "AAAA"}}
    raw = json.dumps(payload).encode()
    now = int(time.time())
    good = sign(raw, HMAC_KEY, now)
    cases = {"changed byte": (raw.replace(b"AAAA", b"AAAB"), good), "wrong key": (raw, sign(raw, "x" * 32, now)),
             "stale": (raw, sign(raw, HMAC_KEY, now - TOLERANCE - 60)),
             "future": (raw, sign(raw, HMAC_KEY, now + TOLERANCE + 60)), "missing": (raw, None),
             **{f"malformed {i}": (raw, bad) for i, bad in enumerate(_mutations(good)) if bad.strip()}}
    for name, (body, header) in cases.items():
        headers = {"Content-Type": "application/json"} | ({"ElevenLabs-Signature": header.encode()} if header else {})
        response = client.post("/post-call", content=body, headers=headers)
        assert response.status_code == 401, name
        assert "error" in response.json(), name
    assert client.post("/post-call", content=raw, headers={"ElevenLabs-Signature": good}).status_code == 200


@pytest.fixture(scope="module")
def sdk_webhooks() -> Any:
    from elevenlabs.client import ElevenLabs

    return ElevenLabs(api_key="not-used-no-network").webhooks  # construct_event needs no key and no network


@settings(max_examples=200, deadline=None, derandomize=True)
@given(value=json_values, secret=secrets, age=st.integers(-3600, TOLERANCE - 60))
def test_our_signatures_verify_with_the_official_sdk(sdk_webhooks: Any, value: Any, secret: str, age: int):
    from elevenlabs.errors import BadRequestError

    webhooks = sdk_webhooks
    body = json.dumps(value, ensure_ascii=False)
    header = sign(body.encode(), secret, int(time.time()) - age)
    assert webhooks.construct_event(rawBody=body, sig_header=header, secret=secret) == json.loads(body)
    with pytest.raises(BadRequestError):
        webhooks.construct_event(rawBody=body + " ", sig_header=header, secret=secret)
    with pytest.raises(BadRequestError):
        webhooks.construct_event(rawBody=body, sig_header=header, secret=secret + "x")
