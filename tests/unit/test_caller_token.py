"""Signed caller tokens: issued by /client-data, the only way the proxy learns who is calling."""

from __future__ import annotations

import pytest

from agentic_memory.domain import caller_token

KEY = caller_token.signing_key("amk_test_workspace_key_0123456789abcdef")
OTHER = caller_token.signing_key("amk_another_workspace_key_0123456789")
NOW = 1_767_225_732.0
CALLER = "+14155550123"


def test_a_token_names_its_caller_until_it_expires():
    token = caller_token.issue("+14155550123", KEY, now=NOW)
    assert caller_token.verify(token, (KEY,), now=NOW) == "+14155550123"
    assert caller_token.verify(f"Caller reference: {token}.", (OTHER, KEY), now=NOW + 3600) == "+14155550123"
    late = NOW + caller_token.MAX_AGE_SECS + 2 * caller_token.BUCKET_SECS
    assert caller_token.verify(token, (KEY,), now=late) is None
    assert caller_token.verify(token, (KEY,), now=NOW - 2 * caller_token.BUCKET_SECS) is None  # from the future


def test_tokens_are_stable_within_the_hour_so_client_data_stays_cacheable():
    start = NOW // caller_token.BUCKET_SECS * caller_token.BUCKET_SECS
    assert caller_token.issue("+14155550123", KEY, now=start) == caller_token.issue("+14155550123", KEY,
                                                                                    now=start + 3599)


def test_forged_relabelled_or_foreign_tokens_name_nobody():
    token = caller_token.issue("+14155550123", KEY, now=NOW)
    prefix, digits, issued, mac = token.split("_", 3)
    assert caller_token.verify(token, (OTHER,), now=NOW) is None
    assert caller_token.verify(f"{prefix}_14155550999_{issued}_{mac}", (KEY,), now=NOW) is None
    assert caller_token.verify(f"{prefix}_{digits}_{int(issued) + 3600}_{mac}", (KEY,), now=NOW + 3600) is None
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert caller_token.verify(f"{prefix}_{digits}_{issued}_{flipped}", (KEY,), now=NOW) is None
    assert caller_token.verify("", (KEY,), now=NOW) is None
    assert caller_token.verify(token + "x", (KEY,), now=NOW) is None  # not a whole token


def test_strip_removes_tokens_and_keeps_the_rest():
    token = caller_token.issue("+14155550123", KEY, now=NOW)
    assert caller_token.strip(f"Be brief. Ref: {token}") == "Be brief. Ref: "


def test_only_e164_numbers_get_tokens():
    with pytest.raises(ValueError, match=r"E\.164"):
        caller_token.issue("anonymous", KEY, now=NOW)


def test_a_token_can_name_its_agent_signed_with_it():
    token = caller_token.issue(CALLER, KEY, now=NOW, agent_id="agent_01jz-x_Y")
    assert token.startswith("amc2_")
    assert caller_token.read(f"ref {token}.", (KEY,), now=NOW) == caller_token.Token(CALLER, "agent_01jz-x_Y")
    assert caller_token.verify(token, (KEY,), now=NOW) == CALLER
    assert caller_token.read(token, (KEY,), now=NOW, agent_id="agent_other") is None
    # another agent's id spliced in, or the agent dropped: the MAC no longer matches
    _, digits, issued, _, mac = caller_token.FIND.fullmatch(token).groups()
    other = caller_token._b64(b"agent_other")
    assert caller_token.read(f"amc2_{digits}_{issued}_{other}_{mac}", (KEY,), now=NOW) is None
    assert caller_token.read(f"amc1_{digits}_{issued}_{mac}", (KEY,), now=NOW) is None
    assert caller_token.read(f"amc2_{digits}_{issued}_{mac}", (KEY,), now=NOW) is None
    assert caller_token.strip(f"a {token} b") == "a  b"
    with pytest.raises(ValueError, match="longer"):
        caller_token.issue(CALLER, KEY, now=NOW, agent_id="a" * (caller_token.MAX_AGENT + 1))


def test_a_signed_agent_that_is_not_text_names_nobody():
    issued = int(NOW) // caller_token.BUCKET_SECS * caller_token.BUCKET_SECS
    agent = caller_token._b64(b"\xff\xfe")
    mac = caller_token._mac(KEY, "amc2", CALLER[1:], issued, agent)
    assert caller_token.read(f"amc2_{CALLER[1:]}_{issued}_{agent}_{mac}", (KEY,), now=NOW) is None
