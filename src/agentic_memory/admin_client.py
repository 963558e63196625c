"""The operator's operations behind one interface, for the CLI: in-process on the configured backend
(`LocalAdmin`), or over HTTP against a running server with the admin key (`RemoteAdmin`). Both return
the same JSON-ready dicts, which the admin API itself returns."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any, Protocol

import httpx

from agentic_memory.bootstrap import Deps
from agentic_memory.errors import AgenticMemoryError, InvalidInput, NotFound, StorageError, Unauthorized
from agentic_memory.services import admin, dead_letters, erasure, retention

Json = dict[str, Any]


class Admin(Protocol):
    def list_callers(self, *, query: str, name: str, seen_after: datetime | None, seen_before: datetime | None,
                     limit: int, offset: int) -> Json: ...

    def show_caller(self, number: str, *, transcripts: bool, agent_id: str | None = None) -> Json: ...

    def export_caller(self, number: str) -> Json: ...

    def call_audio(self, conversation_id: str) -> bytes: ...

    def rename_caller(self, number: str, name: str, agent_id: str | None = None) -> Json: ...

    def erase_caller(self, number: str) -> Json: ...

    def edit_memory(self, memory_id: str, text: str) -> Json: ...

    def delete_memory(self, memory_id: str) -> Json: ...

    def list_jobs(self, *, status: str | None, limit: int, offset: int) -> Json: ...

    def show_job(self, job_id: int) -> Json: ...

    def replay(self, ids: list[int] | None) -> Json: ...

    def purge(self, ids: list[int] | None) -> Json: ...

    def run_retention(self) -> Json: ...


class LocalAdmin:
    """Runs the services in this process, against the backend the server's settings select."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.ops = deps.admin_deps()
        self.actor = f"cli:{getpass.getuser()}"

    def list_callers(self, *, query: str, name: str, seen_after: datetime | None, seen_before: datetime | None,
                     limit: int, offset: int) -> Json:
        return admin.list_callers(self.ops, actor=self.actor, query=query, name=name, seen_after=seen_after,
                                  seen_before=seen_before, limit=limit, offset=offset)

    def show_caller(self, number: str, *, transcripts: bool, agent_id: str | None = None) -> Json:
        return admin.show_caller(self.ops, number, actor=self.actor, transcripts=transcripts, agent_id=agent_id)

    def export_caller(self, number: str) -> Json:
        return erasure.export_caller(self.ops, number, actor=self.actor)

    def call_audio(self, conversation_id: str) -> bytes:
        return admin.call_audio(self.ops, conversation_id, actor=self.actor)

    def rename_caller(self, number: str, name: str, agent_id: str | None = None) -> Json:
        return admin.rename_caller(self.ops, number, name, actor=self.actor, agent_id=agent_id)

    def erase_caller(self, number: str) -> Json:
        return erasure.erase_caller(self.ops, number, actor=self.actor)

    def edit_memory(self, memory_id: str, text: str) -> Json:
        return admin.edit_memory(self.ops, memory_id, text, actor=self.actor)

    def delete_memory(self, memory_id: str) -> Json:
        return admin.delete_memory(self.ops, memory_id, actor=self.actor)

    def list_jobs(self, *, status: str | None, limit: int, offset: int) -> Json:
        return dead_letters.list_jobs(self.ops, actor=self.actor, status=status, limit=limit, offset=offset)

    def show_job(self, job_id: int) -> Json:
        return dead_letters.show_job(self.ops, job_id, actor=self.actor)

    def replay(self, ids: list[int] | None) -> Json:
        return dead_letters.replay(self.ops, ids, actor=self.actor)

    def purge(self, ids: list[int] | None) -> Json:
        return dead_letters.purge(self.ops, ids, actor=self.actor)

    def run_retention(self) -> Json:
        policy = retention.policy_from(self.deps.settings)
        return {"removed": retention.run_retention(self.ops, policy, actor=self.actor)}


class RemoteAdmin:
    """The same operations through a running server's admin API."""

    def __init__(self, url: str, key: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=httpx.Timeout(30, read=600),
                                 headers={"X-Admin-Key": key, "X-Operator": getpass.getuser()[:64]},
                                 transport=transport)

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StorageError(f"could not reach the server: {exc.__class__.__name__}") from exc
        if response.status_code == 200:
            return response
        message = _error_text(response)
        error: type[AgenticMemoryError] = {400: InvalidInput, 401: Unauthorized, 404: NotFound}.get(
            response.status_code, StorageError)
        raise error(message)

    def _call(self, method: str, path: str, **kwargs: Any) -> Json:
        result: Json = self._request(method, path, **kwargs).json()
        return result

    def call_audio(self, conversation_id: str) -> bytes:
        return self._request("GET", f"/admin/calls/{conversation_id}/audio").content

    def doctor(self) -> Json:
        """The server's own checks; a failing check is data here, not an error."""
        return self._call("GET", "/admin/doctor")

    def backup(self, name: str) -> Json:
        return self._call("POST", "/admin/backup", json={"name": name})

    def export_all(self) -> str:
        return self._request("GET", "/admin/export").text

    def list_callers(self, *, query: str, name: str, seen_after: datetime | None, seen_before: datetime | None,
                     limit: int, offset: int) -> Json:
        params: dict[str, str | int] = {"q": query, "name": name, "limit": limit, "offset": offset}
        for key, value in (("seen_after", seen_after), ("seen_before", seen_before)):
            if value is not None:
                params[key] = value.isoformat()
        return self._call("GET", "/admin/callers", params=params)

    def show_caller(self, number: str, *, transcripts: bool, agent_id: str | None = None) -> Json:
        params: dict[str, str | bool] = {"number": number, "transcripts": transcripts}
        if agent_id:
            params["agent_id"] = agent_id
        return self._call("GET", "/admin/caller", params=params)

    def export_caller(self, number: str) -> Json:
        return self._call("GET", "/admin/caller/export", params={"number": number})

    def rename_caller(self, number: str, name: str, agent_id: str | None = None) -> Json:
        return self._call("PUT", "/admin/caller/name", json={"number": number, "name": name, "agent_id": agent_id})

    def erase_caller(self, number: str) -> Json:
        return self._call("POST", "/admin/caller/erase", json={"number": number})

    def edit_memory(self, memory_id: str, text: str) -> Json:
        return self._call("PATCH", f"/admin/memories/{memory_id}", json={"text": text})

    def delete_memory(self, memory_id: str) -> Json:
        return self._call("DELETE", f"/admin/memories/{memory_id}")

    def list_jobs(self, *, status: str | None, limit: int, offset: int) -> Json:
        return self._call("GET", "/admin/dead", params={"status": status or "any", "limit": limit, "offset": offset})

    def show_job(self, job_id: int) -> Json:
        return self._call("GET", f"/admin/dead/{job_id}")

    def replay(self, ids: list[int] | None) -> Json:
        return self._call("POST", "/admin/dead/replay", json={"ids": ids})

    def purge(self, ids: list[int] | None) -> Json:
        return self._call("POST", "/admin/dead/purge", json={"ids": ids})

    def run_retention(self) -> Json:
        return self._call("POST", "/admin/retention/run")


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return f"HTTP {response.status_code}"
