"""Signed caller tokens: issued by /client-data, the only way the proxy learns who is calling."""

from __future__ import annotations

import pytest

from agentic_memory.domain import caller_token

KEY = caller_token.signing_key("amk_test_workspace_key_0123456789abcdef")
OTHER = caller_token.signing_key("amk_another_workspace_key_0123456789")
NOW = 1_767_225_732.0


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
