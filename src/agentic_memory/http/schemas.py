"""Request and response models: they validate input and document the API at /docs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ClientDataRequest(BaseModel):
    """ElevenLabs' conversation-initiation request (extra fields are ignored)."""

    model_config = ConfigDict(extra="ignore")
    caller_id: str | None = Field(None, max_length=64, examples=["+14155550123"],
                                  description="Missing, empty, 'anonymous' or not a number: a neutral answer")
    agent_id: str | None = Field(None, max_length=256)
    called_number: str | None = Field(None, max_length=64)
    call_sid: str | None = Field(None, max_length=256)


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    query: str = Field(min_length=1, max_length=2000, examples=["what did I order last time?"])
    user_id: str | None = Field(None, max_length=64, description="The caller's phone number, any common format "
                                "(withheld or not a number: no memories)")
    limit: int = Field(10, ge=1, le=50)
    type: Literal["factual", "semantic"] | None = None
    agent_id: str | None = Field(None, max_length=256, description="The agent asking (bind it to system__agent_id); "
                                 "required when AGENTIC_MEMORY_SCOPE=agent_and_caller")


class MemoryMetadata(BaseModel):
    type: Literal["factual", "semantic"]
    conversation_id: str
    agent_id: str
    timestamp: str
    category: str = ""
    turn_start: int | None = None
    turn_end: int | None = None


class MemoryOut(BaseModel):
    id: str
    memory: str
    user_id: str
    score: float
    metadata: MemoryMetadata
    created_at: str


class RetrieveResponse(BaseModel):
    memories: list[MemoryOut]


class ClientDataResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["conversation_initiation_client_data"]
    dynamic_variables: dict[str, str]
    conversation_config_override: dict[str, object]
    user_id: str | None = Field(None, description="The caller's number; absent when the caller id is withheld")


class Error(BaseModel):
    error: str
    detail: object | None = None


class Ok(BaseModel):
    status: Literal["ok"]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]
    queue: dict[str, int]
