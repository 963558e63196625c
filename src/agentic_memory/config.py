"""Settings from the environment and `.env`. Nothing is read at import; call `load_settings()`."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentic_memory.errors import ConfigurationError

PLACEHOLDERS = frozenset(
    {"changeme", "change-me", "change_me", "secret", "password", "your-key", "your_key", "your-key-here",
     "xxx", "todo", "test", "example", "placeholder", "replace-me", "wsec_xxx", "none", "null", "default"}
)
MIN_SECRET_LENGTH = 16
KEYS_FILE = "keys.json"


def _split(value: SecretStr | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(part.strip() for part in value.get_secret_value().split(",") if part.strip())


def check_secret(name: str, value: str) -> None:
    """Refuse secrets that are obviously not secret."""
    lowered = value.lower()
    if lowered in PLACEHOLDERS or len(set(value)) < 4 or "your" in lowered or "changeme" in lowered:
        raise ConfigurationError(f"{name} holds a placeholder value; set a real random secret")
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigurationError(f"{name} values must be at least {MIN_SECRET_LENGTH} characters")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    workspace_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "ELEVENLABS_WORKSPACE_KEY", "workspace_key"))
    hmac_key: SecretStr | None = Field(None, validation_alias=AliasChoices("ELEVENLABS_HMAC_KEY", "hmac_key"))
    data_dir: Path = Field(Path("./data"), validation_alias=AliasChoices("AGENTIC_MEMORY_DATA_DIR", "data_dir"))
    default_region: str = Field("US", validation_alias=AliasChoices(
        "AGENTIC_MEMORY_DEFAULT_REGION", "default_region"))
    retrieve_auth: bool = Field(True, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_RETRIEVE_AUTH", "retrieve_auth"))
    # Opt-in system-prompt override: a template with {base_prompt} and {caller_context}.
    prompt_template: str = Field("", validation_alias=AliasChoices(
        "AGENTIC_MEMORY_PROMPT_TEMPLATE", "prompt_template"))
    base_prompt: str = Field("", validation_alias=AliasChoices("AGENTIC_MEMORY_BASE_PROMPT", "base_prompt"))
    signature_tolerance_secs: int = Field(1800, ge=1, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_SIGNATURE_TOLERANCE_SECS", "signature_tolerance_secs"))
    max_post_call_bytes: int = Field(64 * 1024 * 1024, ge=1024, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_MAX_POST_CALL_BYTES", "max_post_call_bytes"))
    max_request_bytes: int = Field(64 * 1024, ge=1024, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_MAX_REQUEST_BYTES", "max_request_bytes"))
    max_attempts: int = Field(8, ge=1, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_MAX_ATTEMPTS", "max_attempts"))
    lease_secs: int = Field(300, ge=5, validation_alias=AliasChoices("AGENTIC_MEMORY_LEASE_SECS", "lease_secs"))
    embed_threads: int = Field(1, ge=1, le=16, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_EMBED_THREADS", "embed_threads"))
    log_level: str = Field("INFO", validation_alias=AliasChoices("AGENTIC_MEMORY_LOG_LEVEL", "log_level"))
    # Backends, chosen by bootstrap.build(). Empty means the embedded default under data_dir.
    # A SecretStr: a postgresql:// URL may carry a password.
    database_url: SecretStr = Field(SecretStr(""), validation_alias=AliasChoices(
        "AGENTIC_MEMORY_DATABASE_URL", "database_url"))
    blob_url: str = Field("", validation_alias=AliasChoices("AGENTIC_MEMORY_BLOB_URL", "blob_url"))
    queue_url: str = Field("", validation_alias=AliasChoices("AGENTIC_MEMORY_QUEUE_URL", "queue_url"))
    memory_engine: str = Field("local", validation_alias=AliasChoices(
        "AGENTIC_MEMORY_MEMORY_ENGINE", "memory_engine"))
    # Mem0 Cloud (AGENTIC_MEMORY_MEMORY_ENGINE=mem0): the original's three settings, unprefixed.
    mem0_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("MEM0_API_KEY", "mem0_api_key"))
    mem0_org_id: str = Field("", validation_alias=AliasChoices("MEM0_ORG_ID", "mem0_org_id"))
    mem0_project_id: str = Field("", validation_alias=AliasChoices("MEM0_PROJECT_ID", "mem0_project_id"))
    mem0_infer: bool = Field(False, validation_alias=AliasChoices("AGENTIC_MEMORY_MEM0_INFER", "mem0_infer"))
    mem0_host: str = Field("https://api.mem0.ai", validation_alias=AliasChoices(
        "AGENTIC_MEMORY_MEM0_HOST", "mem0_host"))
    mem0_timeout_secs: float = Field(10.0, gt=0, le=300, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_MEM0_TIMEOUT_SECS", "mem0_timeout_secs"))

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        value = value.strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise ValueError("AGENTIC_MEMORY_DEFAULT_REGION must be a two-letter region code such as US")
        return value

    @property
    def workspace_keys(self) -> tuple[str, ...]:
        return _split(self.workspace_key)

    @property
    def hmac_keys(self) -> tuple[str, ...]:
        return _split(self.hmac_key)

    def validate_secrets(self) -> None:
        if not self.workspace_keys or not self.hmac_keys:
            raise ConfigurationError("ELEVENLABS_WORKSPACE_KEY and ELEVENLABS_HMAC_KEY must both be set")
        for key in self.workspace_keys:
            check_secret("ELEVENLABS_WORKSPACE_KEY", key)
        for key in self.hmac_keys:
            check_secret("ELEVENLABS_HMAC_KEY", key)


def load_settings(environ: Mapping[str, str] | None = None, *, env_file: str | None = ".env") -> Settings:
    """Build settings from `environ` (default: the process environment) and `env_file`."""
    if environ is None:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    known = {k: v for k, v in environ.items() if k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_", "MEM0_"))}
    return Settings(_env_file=env_file, **known)  # type: ignore[call-arg]


def ensure_keys(settings: Settings, *, create: bool = True) -> tuple[Settings, dict[str, str]]:
    """Fill missing keys from the data dir, generating strong ones on first run.

    Returns the completed settings and the keys generated now (empty when nothing new was made),
    so the caller can print them once.
    """
    path = settings.data_dir / KEYS_FILE
    stored: dict[str, Any] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    generated: dict[str, str] = {}
    updates: dict[str, Any] = {}
    for field, env_name in (("workspace_key", "ELEVENLABS_WORKSPACE_KEY"), ("hmac_key", "ELEVENLABS_HMAC_KEY")):
        if getattr(settings, field) is not None and _split(getattr(settings, field)):
            continue
        value = stored.get(env_name)
        if not value and not create:
            raise ConfigurationError(f"{env_name} is not set and {path} holds no generated key")
        if not value:
            prefix = "wsec_" if field == "hmac_key" else "amk_"
            value = prefix + secrets.token_urlsafe(32)
            generated[env_name] = value
        updates[field] = SecretStr(value)
    if generated:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        stored.update(generated)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stored, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return settings.model_copy(update=updates), generated
