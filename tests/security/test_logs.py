"""Logs of a full end-to-end run of the real server: JSON lines with request ids, and nothing in them that
must not be there (secrets, full phone numbers in any format, what callers said)."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from agentic_memory.elevenlabs import builders
from tests.security.conftest import HMAC_KEY, WORKSPACE_KEY, auth_headers, json_lines, signed_headers

SECOND_KEY = "amk_second_rotation_key_0123456789"
SECOND_HMAC = "wsec_second_rotation_secret_98765432"
CALLER, OTHER = "+14155550188", "+442079460321"
SAID = ["Quillonaire", "zanzibarquokka", "marmaladeofsecrets", "xylophonist", "Brindlewick",
        "periwinkleorder", "hushhushpassword", "velvetqueryword"]
NUMBERS = {CALLER: "4155550188", OTHER: "2079460321", "+14155550100": "4155550100", "+16505550142": "6505550142"}


def _number_pattern(national: str) -> re.Pattern[str]:
    """The national digits with any separators between them: 4155550188, 415-555-0188, (415) 555.0188 ..."""
    return re.compile(r"[\s\-.()/]*".join(national))


def _requests(url: str) -> list[httpx.Response]:
    now = int(time.time())
    out = []
    with httpx.Client(base_url=url, timeout=30) as client:
        def post(path: str, **kwargs: object) -> httpx.Response:
            response = client.post(path, **kwargs)
            out.append(response)
            return response

        for raw_caller in (CALLER, "(415) 555-0188", "415.555.0188", "tel:+1-415-555-0188", OTHER):
            assert post("/client-data", json={"caller_id": raw_caller, "called_number": "+14155550100",
                                              "call_sid": "CA" + "1" * 32},
                        headers=auth_headers()).status_code == 200
        turns = [("agent", "Hello, who is calling?"),
                 ("user", f"My name is {SAID[0]}. My {SAID[1]} number is A-77123 and I prefer email."),
                 ("user", f"Call me back on 650 555 0142 about the {SAID[2]}."), ("agent", "Noted, thank you.")]
        transcript = builders.transcription(conversation_id="conv_logs_1", caller=CALLER, turns=turns,
                                            start_time=now - 120, summary=f"{SAID[3]} asked about {SAID[4]}.",
                                            data={"caller_name": SAID[0], "order": SAID[5]})
        failure = {"type": "call_initiation_failure", "event_timestamp": now, "data": {
            "agent_id": builders.AGENT_ID, "conversation_id": "conv_logs_fail", "failure_reason": "busy",
            "metadata": {"type": "twilio", "body": {"From": "+14155550100", "To": OTHER, "CallStatus": "busy"}}}}
        bodies = [(transcript, HMAC_KEY), (builders.audio(conversation_id="conv_logs_1", mp3=b"ID3" + b"\0" * 64),
                                          SECOND_HMAC),
                  (failure, HMAC_KEY),
                  ({"type": "post_call_audio", "data": {"conversation_id": "conv_logs_bad", "full_audio": "!!"}},
                   HMAC_KEY)]
        for body, secret in bodies:
            raw = json.dumps(body).encode()
            assert post("/post-call", content=raw, headers=signed_headers(raw, secret=secret)).status_code == 200
        raw = json.dumps(transcript).encode()
        assert post("/post-call", content=raw, headers=signed_headers(raw, secret="wsec_wrong_" + "z" * 24)
                    ).status_code == 401
        assert post("/post-call", content=b'{"broken": ' + SAID[6].encode(),
                    headers=signed_headers(b'{"broken": ' + SAID[6].encode())).status_code == 400
        assert post("/client-data", json={"caller_id": CALLER}, headers={"X-Workspace-Key": "amk_wrong_" + "k" * 30}
                    ).status_code == 401
        # Not a number: a neutral 200 (a withheld caller id), and its text must not reach the logs either.
        assert post("/client-data", json={"caller_id": "415 555 01888 " + SAID[6]}, headers=auth_headers()
                    ).status_code == 200
        assert post("/client-data", content=b" " * 70_000, headers=auth_headers()).status_code == 413
        for _ in range(100):  # let the worker finish before searching
            if client.get("/health").json()["queue"]["pending"] == 0:
                break
            time.sleep(0.2)
        for key in (WORKSPACE_KEY, SECOND_KEY):
            found = post("/retrieve", json={"query": f"what is my {SAID[1]} {SAID[7]} number?",
                                            "user_id": "(415) 555-0188"},
                         headers={"Authorization": f"Bearer {key}", "X-Request-Id": "trace-abc_123"})
            assert found.status_code == 200
            assert found.json()["memories"]
        post("/retrieve", json={"query": "x", "user_id": CALLER}, headers={**auth_headers(), "X-Request-Id": "x" * 100})
    return out


@pytest.mark.slow
def test_a_full_run_logs_json_with_request_ids_and_no_secrets_numbers_or_speech(server_factory):
    server = server_factory({"ELEVENLABS_WORKSPACE_KEY": f"{WORKSPACE_KEY},{SECOND_KEY}",
                             "ELEVENLABS_HMAC_KEY": f"{HMAC_KEY},{SECOND_HMAC}"})
    server.start()
    responses = _requests(server.url)
    assert server.wait_drained(timeout=30)["queue"] == {"pending": 0, "dead": 1}  # the bad audio, dead-lettered
    server.stop()
    text = server.logs()

    for secret in (WORKSPACE_KEY, SECOND_KEY, HMAC_KEY, SECOND_HMAC, WORKSPACE_KEY[4:20], HMAC_KEY[5:21]):
        assert secret not in text
    for response in responses:
        signature = response.request.headers.get("elevenlabs-signature", "")
        if signature:
            assert signature.split("v0=")[1] not in text
    for number, national in NUMBERS.items():
        match = _number_pattern(national).search(text)
        assert match is None, f"full number {number} logged as {match.group(0)!r}"
    for word in [*SAID, "A-77123"]:
        assert word.lower() not in text.lower(), f"caller text {word!r} in the logs"

    lines = [line for line in text.splitlines() if line.strip()]
    first_json = next(i for i, line in enumerate(lines) if line.startswith("{"))
    assert first_json <= 3, "more than a short startup banner before the logs begin"
    entries = json_lines("\n".join(lines[first_json:]))
    assert len(entries) == len(lines) - first_json, "a log line after startup is not JSON"
    assert all({"ts", "level", "logger", "msg"} <= set(entry) for entry in entries)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["ts"]) for entry in entries)
    by_id = {entry["request_id"]: entry for entry in entries if "status" in entry and "request_id" in entry}
    for response in responses:
        rid = response.headers["x-request-id"]
        assert rid in by_id, f"no access line for request {rid}"
        assert by_id[rid]["status"] == response.status_code
        assert by_id[rid]["path"] == response.request.url.path
        if response.request.url.path == "/post-call" and response.status_code == 200:
            assert by_id[rid]["event_type"]
            assert isinstance(by_id[rid]["duplicate"], bool)
    assert "trace-abc_123" in by_id  # a caller's safe request id is kept for tracing
    assert not any(len(rid) > 64 for rid in by_id)  # an oversized one is replaced
    assert any("job_id" in entry for entry in entries)  # the worker's lines are in the capture too
