"""Settings from the environment and `.env`. Nothing is read at import; call `load_settings()`."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentic_memory.errors import ConfigurationError

PLACEHOLDERS = frozenset(
    {"changeme", "change-me", "change_me", "secret", "password", "your-key", "your_key", "your-key-here",
     "xxx", "todo", "test", "example", "placeholder", "replace-me", "wsec_xxx", "none", "null", "default"}
)
MIN_SECRET_LENGTH = 16
KEYS_FILE = "keys.json"
TEMPLATE_PREFIX = "AGENTIC_MEMORY_FIRST_MESSAGE_TEMPLATE_"


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
    # How long an idle worker sleeps before it looks for jobs again. On PostgreSQL a NOTIFY wakes it sooner.
    poll_secs: float = Field(0.5, gt=0, le=600, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_POLL_SECS", "poll_secs"))
    # onnxruntime threads of the one model session; 0: every core the process may use.
    embed_threads: int = Field(0, ge=0, le=16, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_EMBED_THREADS", "embed_threads"))
    log_level: str = Field("INFO", validation_alias=AliasChoices("AGENTIC_MEMORY_LOG_LEVEL", "log_level"))
    # Whose memories are whose (domain/scope.py): per caller, or per agent and caller.
    scope: Literal["caller", "agent_and_caller"] = Field("caller", validation_alias=AliasChoices(
        "AGENTIC_MEMORY_SCOPE", "scope"))
    # Greeting control (domain/greeting.py): off never replaces the agent's own first message.
    first_message: bool = Field(True, validation_alias=AliasChoices("AGENTIC_MEMORY_FIRST_MESSAGE", "first_message"))
    # From AGENTIC_MEMORY_FIRST_MESSAGE_TEMPLATE_<LANG> variables (collected by load_settings).
    first_message_templates: dict[str, str] = Field(default_factory=dict)
    # The operator's side (http/admin.py, cli_admin.py): its own key, never the workspace key.
    admin_key: SecretStr | None = Field(None, validation_alias=AliasChoices("AGENTIC_MEMORY_ADMIN_KEY", "admin_key"))
    # Keys the HMAC that names callers in audit events and receipts (domain/pseudonym.py).
    audit_secret: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_AUDIT_SECRET", "audit_secret"))
    # Retention per data kind, in days; unset keeps forever (services/retention.py).
    retention_raw_bodies_days: int | None = Field(None, ge=0, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_RETENTION_RAW_BODIES_DAYS", "retention_raw_bodies_days"))
    retention_transcripts_days: int | None = Field(None, ge=0, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_RETENTION_TRANSCRIPTS_DAYS", "retention_transcripts_days"))
    retention_audio_days: int | None = Field(None, ge=0, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_RETENTION_AUDIO_DAYS", "retention_audio_days"))
    retention_semantic_days: int | None = Field(None, ge=0, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_RETENTION_SEMANTIC_DAYS", "retention_semantic_days"))
    retention_factual_days: int | None = Field(None, ge=0, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_RETENTION_FACTUAL_DAYS", "retention_factual_days"))
    retention_inactive_callers_days: int | None = Field(None, ge=0, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_RETENTION_INACTIVE_CALLERS_DAYS", "retention_inactive_callers_days"))
    # Backends, chosen by bootstrap.build(). Empty means the embedded default under data_dir.
    # A SecretStr: a postgresql:// URL may carry a password.
    database_url: SecretStr = Field(SecretStr(""), validation_alias=AliasChoices(
        "AGENTIC_MEMORY_DATABASE_URL", "database_url"))
    # PostgreSQL only: connections per process, how long a request waits for one (then 503), and the
    # server-side limit on any one statement.
    database_pool_size: int = Field(10, ge=1, le=1000, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_DATABASE_POOL_SIZE", "database_pool_size"))
    database_timeout_secs: float = Field(5.0, gt=0, le=300, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_DATABASE_TIMEOUT_SECS", "database_timeout_secs"))
    database_statement_timeout_ms: int = Field(15_000, ge=100, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_DATABASE_STATEMENT_TIMEOUT_MS", "database_statement_timeout_ms"))
    blob_url: str = Field("", validation_alias=AliasChoices("AGENTIC_MEMORY_BLOB_URL", "blob_url"))
    queue_url: str = Field("", validation_alias=AliasChoices("AGENTIC_MEMORY_QUEUE_URL", "queue_url"))
    # S3 and SQS: a local or compatible server instead of AWS (tests, MinIO, LocalStack). Region and
    # credentials come from boto3's usual chain (AWS_REGION, the Lambda role).
    aws_endpoint_url: str = Field("", validation_alias=AliasChoices(
        "AGENTIC_MEMORY_AWS_ENDPOINT_URL", "aws_endpoint_url"))
    # The worker fetches each call's audio from ElevenLabs after its transcript (where audio webhooks
    # cannot arrive: Lambda refuses requests over 6 MB). Needs ELEVENLABS_API_KEY.
    fetch_audio: bool = Field(False, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_FETCH_AUDIO", "fetch_audio"))
    elevenlabs_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "ELEVENLABS_API_KEY", "elevenlabs_api_key"))
    elevenlabs_api_url: str = Field("https://api.elevenlabs.io", validation_alias=AliasChoices(
        "AGENTIC_MEMORY_ELEVENLABS_API_URL", "elevenlabs_api_url"))
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
    # Optional LLM fact extractor (adapters/llm_extractor.py): any OpenAI-compatible chat-completions API.
    # Off unless both URL and model are set; the rules stay the fallback.
    llm_url: str = Field("", validation_alias=AliasChoices("AGENTIC_MEMORY_LLM_URL", "llm_url"))
    llm_model: str = Field("", validation_alias=AliasChoices("AGENTIC_MEMORY_LLM_MODEL", "llm_model"))
    llm_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_LLM_API_KEY", "llm_api_key"))
    llm_timeout_secs: float = Field(20.0, gt=0, le=300, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_LLM_TIMEOUT_SECS", "llm_timeout_secs"))
    # The memory proxy (POST /v1/chat/completions): the base URL of an OpenAI-compatible API ("" = off).
    upstream_url: str = Field("", validation_alias=AliasChoices("AGENTIC_MEMORY_UPSTREAM_URL", "upstream_url"))
    upstream_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_UPSTREAM_API_KEY", "upstream_api_key"))
    upstream_model: str = Field("", validation_alias=AliasChoices(
        "AGENTIC_MEMORY_UPSTREAM_MODEL", "upstream_model"))
    proxy_budget_ms: int = Field(300, ge=10, le=10_000, validation_alias=AliasChoices(
        "AGENTIC_MEMORY_PROXY_BUDGET_MS", "proxy_budget_ms"))

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        value = value.strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise ValueError("AGENTIC_MEMORY_DEFAULT_REGION must be a two-letter region code such as US")
        return value

    @field_validator("llm_url")
    @classmethod
    def _llm_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("AGENTIC_MEMORY_LLM_URL must be an http(s) base URL such as http://localhost:8000/v1")
        return value

    @field_validator("upstream_url")
    @classmethod
    def _upstream(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("AGENTIC_MEMORY_UPSTREAM_URL must be an http(s) base URL such as https://api.openai.com/v1")
        return value

    @property
    def workspace_keys(self) -> tuple[str, ...]:
        return _split(self.workspace_key)

    @property
    def hmac_keys(self) -> tuple[str, ...]:
        return _split(self.hmac_key)

    @property
    def admin_keys(self) -> tuple[str, ...]:
        return _split(self.admin_key)

    @property
    def caller_ref_secret(self) -> str:
        """The audit secret; without one (tests, older data dirs), one derived from the webhook secret."""
        if self.audit_secret is not None and self.audit_secret.get_secret_value():
            return self.audit_secret.get_secret_value()
        keys = self.hmac_keys or ("",)
        return hashlib.sha256(b"agentic-memory caller ref\x00" + keys[0].encode()).hexdigest()

    def validate_secrets(self) -> None:
        if not self.workspace_keys or not self.hmac_keys:
            raise ConfigurationError("ELEVENLABS_WORKSPACE_KEY and ELEVENLABS_HMAC_KEY must both be set")
        for key in self.workspace_keys:
            check_secret("ELEVENLABS_WORKSPACE_KEY", key)
        for key in self.hmac_keys:
            check_secret("ELEVENLABS_HMAC_KEY", key)
        for key in self.admin_keys:
            check_secret("AGENTIC_MEMORY_ADMIN_KEY", key)
            if key in self.workspace_keys or key in self.hmac_keys:
                raise ConfigurationError("AGENTIC_MEMORY_ADMIN_KEY must differ from the workspace and webhook keys")


def _templates(environ: Mapping[str, str], env_file: str | None) -> dict[str, str]:
    """AGENTIC_MEMORY_FIRST_MESSAGE_TEMPLATE_<LANG> from `.env` and the environment (which wins)."""
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(environ)
    return {key[len(TEMPLATE_PREFIX):].lower(): value for key, value in values.items()
            if key.startswith(TEMPLATE_PREFIX) and len(key) > len(TEMPLATE_PREFIX) and value.strip()}


def load_settings(environ: Mapping[str, str] | None = None, *, env_file: str | None = ".env") -> Settings:
    """Build settings from `environ` (default: the process environment) and `env_file`."""
    templates = _templates(os.environ if environ is None else environ, env_file)
    if environ is None:
        return Settings(_env_file=env_file, first_message_templates=templates)
    # Any: pydantic parses the strings into each field's type.
    known: dict[str, Any] = {k: v for k, v in environ.items()
                             if k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_", "MEM0_"))
                             and not k.startswith(TEMPLATE_PREFIX)}
    return Settings(_env_file=env_file, first_message_templates=templates, **known)


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
    for field, env_name in (("workspace_key", "ELEVENLABS_WORKSPACE_KEY"), ("hmac_key", "ELEVENLABS_HMAC_KEY"),
                            ("admin_key", "AGENTIC_MEMORY_ADMIN_KEY"), ("audit_secret", "AGENTIC_MEMORY_AUDIT_SECRET")):
        if getattr(settings, field) is not None and _split(getattr(settings, field)):
            continue
        value = stored.get(env_name)
        if not value and not create:
            if field in ("admin_key", "audit_secret"):
                continue  # optional for clients such as `demo`; the server generates them
            raise ConfigurationError(f"{env_name} is not set and {path} holds no generated key")
        if not value:
            prefix = {"hmac_key": "wsec_", "admin_key": "amadm_", "audit_secret": "amaud_"}.get(field, "amk_")
            value = prefix + secrets.token_urlsafe(32)
            generated[env_name] = value
        updates[field] = SecretStr(value)
    if generated:
        stored.update(generated)
        _write_keys(path, stored)
    return settings.model_copy(update=updates), generated


def save_key(data_dir: Path, env_name: str, value: str) -> Path:
    """Set one key in the data dir's keys file (mode 600, replaced atomically); returns the file's path."""
    path = data_dir / KEYS_FILE
    stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    stored[env_name] = value
    _write_keys(path, stored)
    return path


def _write_keys(path: Path, stored: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(stored, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
