"""The audit hook of tests/fs_guard.py refuses paths outside the checkout (and allows the ones inside)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import FS_GUARD
from tests.fs_guard import CHECKOUT, OutsideCheckoutError

# The licensed data sets sit beside the checkout in CI and on developer machines; tests must never read them.
SHARED = CHECKOUT.parent / "shared" / "datasets" / "locomo-dev.json"


def test_opening_the_shared_folder_beside_the_checkout_fails() -> None:
    # Refused before the file system is asked, so this holds whether or not ../shared exists here.
    with FS_GUARD.expect_violation() as caught:
        with pytest.raises(OutsideCheckoutError, match="outside the checkout"):
            SHARED.open(encoding="utf-8")
        with pytest.raises(OutsideCheckoutError):
            os.open(SHARED, os.O_RDONLY)
        with pytest.raises(OutsideCheckoutError):
            sqlite3.connect(CHECKOUT.parent / "shared" / "stolen.sqlite3")
        with pytest.raises(OutsideCheckoutError):
            os.listdir(CHECKOUT.parent / "shared")
    assert len(caught) == 4
    assert all("shared" in message for message in caught)


def test_a_symlink_out_of_the_temp_dir_is_followed_and_refused(tmp_path: Path) -> None:
    link = tmp_path / "innocent.json"
    link.symlink_to(SHARED)
    with FS_GUARD.expect_violation() as caught, pytest.raises(OutsideCheckoutError):
        link.read_text(encoding="utf-8")
    assert len(caught) == 1


def test_a_caught_violation_still_fails_the_test() -> None:
    # Code under test may swallow the error (`except OSError`); the record still holds it for the fixture.
    with FS_GUARD.expect_violation() as caught, contextlib.suppress(OSError):
        SHARED.read_bytes()
    assert caught


def test_the_checkout_and_the_temp_dir_are_allowed(tmp_path: Path) -> None:
    assert (CHECKOUT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "note.txt").write_text("ok", encoding="utf-8")
    sqlite3.connect(tmp_path / "db.sqlite3").close()
    assert str(tmp_path).startswith(FS_GUARD.temp_root)
    assert not str(tmp_path).startswith(str(CHECKOUT.parent) + os.sep + "shared")


def test_sqlite_uris_are_checked_by_their_path(tmp_path: Path) -> None:
    sqlite3.connect(f"file:{tmp_path / 'ok.sqlite3'}?mode=rwc", uri=True).close()
    sqlite3.connect("file:scratch?mode=memory", uri=True).close()
    sqlite3.connect(":memory:").close()
    with FS_GUARD.expect_violation() as caught, pytest.raises(OutsideCheckoutError):
        sqlite3.connect(f"file://{CHECKOUT.parent / 'shared' / 'x.sqlite3'}?mode=ro", uri=True)
    assert len(caught) == 1
