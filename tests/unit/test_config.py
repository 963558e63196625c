"""Settings: names, rotation lists, placeholder refusal, first-run key generation."""

from __future__ import annotations

import json
import stat

import pytest

from agentic_memory.config import ensure_keys, load_settings
from agentic_memory.errors import ConfigurationError

GOOD = "wsec_0123456789abcdefghijklmnop"


def test_reads_the_documented_names_and_splits_rotation_lists(tmp_path):
    settings = load_settings({"ELEVENLABS_WORKSPACE_KEY": f"{GOOD}a, {GOOD}b", "ELEVENLABS_HMAC_KEY": GOOD,
                              "AGENTIC_MEMORY_DATA_DIR": str(tmp_path), "AGENTIC_MEMORY_DEFAULT_REGION": "gb"},
                             env_file=None)
    assert settings.workspace_keys == (f"{GOOD}a", f"{GOOD}b")
    assert settings.hmac_keys == (GOOD,)
    assert settings.default_region == "GB"
    assert settings.data_dir == tmp_path
    settings.validate_secrets()
    assert GOOD not in repr(settings)


@pytest.mark.parametrize("bad", ["changeme", "your-key-here", "short", "aaaaaaaaaaaaaaaaaaaa", "secret"])
def test_placeholder_secrets_are_refused(bad):
    settings = load_settings({"ELEVENLABS_WORKSPACE_KEY": bad, "ELEVENLABS_HMAC_KEY": GOOD}, env_file=None)
    with pytest.raises(ConfigurationError):
        settings.validate_secrets()


def test_first_run_generates_keys_once_and_keeps_them_private(tmp_path):
    settings = load_settings({"AGENTIC_MEMORY_DATA_DIR": str(tmp_path)}, env_file=None)
    filled, generated = ensure_keys(settings)
    assert set(generated) == {"ELEVENLABS_WORKSPACE_KEY", "ELEVENLABS_HMAC_KEY", "AGENTIC_MEMORY_ADMIN_KEY",
                              "AGENTIC_MEMORY_AUDIT_SECRET"}
    assert filled.admin_keys and filled.admin_keys[0] not in filled.workspace_keys
    filled.validate_secrets()
    path = tmp_path / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, generated_again = ensure_keys(settings)
    assert generated_again == {}
    assert again.workspace_keys == filled.workspace_keys
    assert json.loads(path.read_text())["ELEVENLABS_HMAC_KEY"] == filled.hmac_keys[0]


def test_configured_keys_win_over_generated_ones(tmp_path):
    settings = load_settings({"AGENTIC_MEMORY_DATA_DIR": str(tmp_path), "ELEVENLABS_WORKSPACE_KEY": GOOD},
                             env_file=None)
    filled, generated = ensure_keys(settings)
    assert filled.workspace_keys == (GOOD,)
    assert list(generated) == ["ELEVENLABS_HMAC_KEY", "AGENTIC_MEMORY_ADMIN_KEY", "AGENTIC_MEMORY_AUDIT_SECRET"]


def test_bad_region_is_refused():
    with pytest.raises(ValueError, match="two-letter region code"):
        load_settings({"AGENTIC_MEMORY_DEFAULT_REGION": "USA"}, env_file=None)
