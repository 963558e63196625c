"""The operator's services at their edges, on the shipped fakes: bad paging, per-agent memories, files gone
from the blob store, Mem0-held memories, bulk import formats, the webhook ack of a large body, searches
for a withheld caller."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agentic_memory.domain.models import MemoryType
from agentic_memory.elevenlabs import builders, signature
from agentic_memory.errors import InvalidInput, NotFound
from agentic_memory.ports import MemoryEngine
from agentic_memory.services import (
    admin,
    bulk,
    client_data,
    dashboard,
    dead_letters,
    erasure,
    ingest,
    process_call,
    retention,
    search,
)
from agentic_memory.testing import InMemoryMemoryStore
from agentic_memory.worker import Worker
from tests.unit.test_admin_services import ANN, T0, World

HOOK_SECRET = "wsec_" + "k" * 32


@pytest.fixture
def world() -> World:
    return World()


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (admin.MAX_PAGE + 1, 0), (10, -1)])
def test_paging_out_of_range_is_refused(world: World, limit: int, offset: int) -> None:
    with pytest.raises(InvalidInput, match="limit must be"):
        admin.list_callers(world.ops, actor="ops", limit=limit, offset=offset)
    with pytest.raises(InvalidInput, match="limit must be"):
        dead_letters.list_jobs(world.ops, actor="ops", limit=limit, offset=offset)
    assert world.admin.audit_events(limit=10) == []  # refused before anything was read


def test_a_number_with_memories_per_agent_needs_an_agent_id(world: World) -> None:
    world.worker_deps = replace(world.worker_deps, scope="agent_and_caller")
    world.call("c1", [("user", "Hi, I'm Ann, I prefer oat milk.")], agent_id="agent_cafe")
    world.call("c2", [("user", "Hi, I'm Ann, my dentist is Dr Lee.")], day=1, agent_id="agent_clinic")
    with pytest.raises(InvalidInput, match=r"several agents \(agent_cafe, agent_clinic\): give agent_id"):
        admin.show_caller(world.ops, ANN, actor="ops")
    cafe = admin.show_caller(world.ops, ANN, actor="ops", agent_id="agent_cafe")
    assert cafe["caller"]["agent_id"] == "agent_cafe"
    assert [c["conversation_id"] for c in cafe["calls"]] == ["c1"]
    with pytest.raises(NotFound):
        admin.rename_caller(world.ops, ANN, "Anne", actor="ops", agent_id="agent_unknown")


def test_files_gone_from_the_blob_store_show_as_missing_not_as_errors(world: World) -> None:
    world.call("c1", [("user", "I prefer oat milk.")], summary="Oat milk fan.")
    world.store.link_file("c1", "audio", "calls/c1/audio.mp3")  # linked, but the file was never written
    assert world.blobs.delete("calls/c1/post_call_transcription.json")
    shown = admin.show_caller(world.ops, ANN, actor="ops", transcripts=True)
    call = shown["calls"][0]
    assert (call["summary"], call["title"]) == ("", "")  # the payload is gone; the transcript is still there
    assert call["transcript"][0]["message"] == "I prefer oat milk."
    assert call["audio"] == "/admin/calls/c1/audio"
    with pytest.raises(NotFound, match="no audio"):
        admin.call_audio(world.ops, "c1", actor="ops")


def test_memories_held_by_mem0_cannot_be_edited_here(world: World) -> None:
    world.call("c1", [("user", "I prefer oat milk in my latte.")])
    memory_id = admin.show_caller(world.ops, ANN, actor="ops")["memories"][0]["id"]
    mem0_ops = replace(world.ops, embedder=None)
    with pytest.raises(InvalidInput, match="Mem0 Cloud"):
        admin.edit_memory(mem0_ops, memory_id, "I prefer soy milk.", actor="ops")
    assert admin.show_caller(world.ops, ANN, actor="ops")["memories"][0]["status"] == "active"


def test_a_memory_deleted_twice_is_not_found_the_second_time(world: World) -> None:
    world.call("c1", [("user", "I prefer oat milk in my latte.")])
    memory_id = admin.show_caller(world.ops, ANN, actor="ops")["memories"][0]["id"]
    assert admin.delete_memory(world.ops, memory_id, actor="ops") == {"deleted": memory_id}
    with pytest.raises(NotFound, match="no longer active"):
        admin.delete_memory(world.ops, memory_id, actor="ops")
    assert [e.action for e in world.admin.audit_events(limit=10)].count("memories.delete") == 1


def test_raw_bodies_retention_empties_processed_inbox_bodies_and_payload_files(world: World) -> None:
    world.call("c1", [("user", "I prefer oat milk.")], summary="Oat milk fan.")
    world.clock.advance(3 * 86400)
    removed = retention.run_retention(world.ops, {"raw_bodies": 2})
    assert removed["raw_bodies"] == 2  # the inbox body and the payload file
    assert all(not row.job.body for row in world.queue.rows.values())
    assert "calls/c1/post_call_transcription.json" not in world.blobs.blobs
    assert "calls/c1/transcript.json" in world.blobs.blobs
    assert admin.show_caller(world.ops, ANN, actor="ops")["calls"][0]["summary"] == ""


def test_a_dashboard_link_to_an_erased_caller_is_not_found(world: World) -> None:
    world.call("c1", [("user", "I prefer oat milk.")])
    link = dashboard.handle(ANN, world.ops)
    assert dashboard.resolve(world.ops, link).caller_id == ANN
    world.admin.erase_caller(ANN)
    with pytest.raises(NotFound, match="no such caller"):
        dashboard.resolve(world.ops, link)


def _payload(cid: str, caller: str = ANN) -> dict[str, Any]:
    return builders.transcription(conversation_id=cid, caller=caller, start_time=T0,
                                  turns=[("user", f"My order number is {cid}.")])


def test_import_reads_a_file_a_jsonl_with_blank_lines_and_a_json_array(world: World, tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_bytes(json.dumps(_payload("c_file")).encode())
    folder = tmp_path / "history"
    (folder / "nested").mkdir(parents=True)
    (folder / "calls.jsonl").write_text(
        json.dumps(_payload("c_line1")) + "\n\n   \n" + json.dumps(_payload("c_line2")) + "\n", encoding="utf-8")
    (folder / "nested" / "export.json").write_text(
        json.dumps([_payload("c_array1"), _payload("c_array2"), {"not": "a webhook"}]), encoding="utf-8")
    (folder / "notes.txt").write_text("not read", encoding="utf-8")

    assert bulk.import_payloads(one, queue=world.queue, clock=world.clock) == {
        "accepted": 1, "already_imported": 0, "invalid": 0}
    seen: list[tuple[int, int]] = []
    counts = bulk.import_payloads(folder, queue=world.queue, clock=world.clock,
                                  progress=lambda done, total: seen.append((done, total)))
    assert counts == {"accepted": 4, "already_imported": 0, "invalid": 1}
    assert seen == [(1, 2), (2, 2)]
    assert {job.conversation_id for job in (r.job for r in world.queue.rows.values())} == {
        "c_file", "c_line1", "c_line2", "c_array1", "c_array2"}
    with pytest.raises(InvalidInput, match="no such file or folder"):
        bulk.import_payloads(tmp_path / "missing", queue=world.queue, clock=world.clock)


def test_export_reports_progress_per_caller(world: World) -> None:
    world.call("c1", [("user", "I prefer oat milk.")])
    world.call("c2", [("user", "I like green tea.")], caller="+16129780000")
    out, seen = io.StringIO(), []
    totals = bulk.export_memories(world.ops, out, actor="ops", progress=lambda n, total: seen.append((n, total)))
    assert totals["callers"] == 2
    assert seen == [(1, 2), (2, 2)]
    assert len(out.getvalue().splitlines()) == totals["memories"]


def test_a_large_webhook_is_checked_off_the_loop_and_stored(world: World) -> None:
    payload = _payload("c_big")
    payload["data"]["analysis"]["transcript_summary"] = "x" * (ingest.INLINE_CHECK_BYTES + 1)
    body = json.dumps(payload).encode()
    header = signature.sign(body, HOOK_SECRET, timestamp=T0)
    accepted = asyncio.run(ingest.accept_webhook(body, header, secrets=[HOOK_SECRET], tolerance_secs=1800,
                                                 queue=world.queue, clock=world.clock))
    assert accepted == ingest.Accepted("post_call_transcription", "c_big", duplicate=False)
    assert [r.job.body for r in world.queue.rows.values()] == [body]


def test_a_withheld_caller_gets_a_first_time_briefing_and_no_memories(world: World) -> None:
    world.call("c1", [("user", "Hi, I'm Ann, I prefer oat milk.")])
    briefing = client_data.brief_caller("anonymous", store=world.store)
    assert (briefing.caller_id, briefing.profile) == ("", None)
    query = search.SearchQuery(query="milk", user_id="anonymous")
    assert search.search(query, engine=world.engine) == ("", [])
    assert search.explain(query, engine=world.engine) == ("", [])


class RemoteRanking:
    """An engine that ranks on its own servers (as Mem0 does): it can recall, but not explain."""

    def __init__(self, inner: MemoryEngine) -> None:
        self.inner = inner

    def prepare(self, query: str) -> None:  # noqa: ARG002 - the port's signature; it embeds on its servers
        return None

    def recall(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None = None,
               checkpoint: Any = None, vector: Any = None) -> Any:
        return self.inner.recall(caller_id, query, limit=limit, type=type, checkpoint=checkpoint, vector=vector)


def test_the_search_playground_needs_an_engine_that_ranks_here(world: World) -> None:
    world.call("c1", [("user", "Hi, I'm Ann, I prefer oat milk in my latte.")])
    remote = RemoteRanking(world.engine)
    query = search.SearchQuery(query="oat milk", user_id=ANN)
    caller, hits = search.search(query, engine=remote)
    assert caller == ANN
    assert hits
    with pytest.raises(InvalidInput, match="local memory engine"):
        search.explain(query, engine=remote)


def test_an_unknown_store_has_nothing_to_brief() -> None:
    briefing = client_data.brief_caller("+16129782029", store=InMemoryMemoryStore())
    assert (briefing.caller_id, briefing.profile) == (ANN, None)


def _queue(world: World, body: dict[str, Any]) -> None:
    world.queue.accept(event_type=body["type"], conversation_id=body["data"]["conversation_id"],
                       body=json.dumps(body).encode(), received_at=world.clock.now()).result()


def _failure(cid: str, to_number: str) -> dict[str, Any]:
    return {"type": "call_initiation_failure", "event_timestamp": T0, "data": {
        "agent_id": builders.AGENT_ID, "conversation_id": cid, "failure_reason": "no-answer",
        "metadata": {"type": "twilio", "body": {"From": "+14155550100", "To": to_number, "CallStatus": "no-answer"}}}}


def test_erasing_a_number_known_only_from_a_failed_outbound_call(world: World) -> None:
    _queue(world, _failure("c_failed", "(612) 978-2029"))
    _queue(world, _failure("c_other", "+16129780000"))
    world.queue.accept(event_type="call_initiation_failure", conversation_id="c_junk", body=b"{not json",
                       received_at=world.clock.now()).result()
    receipt = erasure.erase_caller(world.ops, ANN, actor="ops")
    assert receipt["counts"]["unprocessed_webhooks"] == 1
    rows = {r.job.conversation_id: r for r in world.queue.rows.values()}
    assert (rows["c_failed"].status, rows["c_failed"].job.body) == ("erased", b"")
    # Another callee's failure, and a body that names no one, are kept.
    assert [rows[cid].status for cid in ("c_other", "c_junk")] == ["queued", "queued"]
    with pytest.raises(NotFound):
        erasure.erase_caller(world.ops, ANN, actor="ops")


def test_only_transcripts_and_failures_name_a_caller() -> None:
    audio = builders.audio(conversation_id="c1", mp3=builders.FAKE_MP3)
    assert erasure.webhook_callers(json.dumps(audio).encode(), "US") == set()
    assert erasure.webhook_callers(json.dumps(_payload("c1")).encode(), "US") == {ANN}
    assert erasure.webhook_callers(json.dumps(_payload("c2", caller="")).encode(), "US") == set()


def test_export_of_an_unknown_number_or_with_files_gone(world: World) -> None:
    with pytest.raises(NotFound):
        erasure.export_caller(world.ops, ANN, actor="ops")
    world.call("c1", [("user", "I'm Ann, I prefer oat milk.")])
    assert world.blobs.delete("calls/c1/transcript.json")
    call = erasure.export_caller(world.ops, ANN, actor="ops")["calls"][0]
    assert "transcript" not in call
    assert call["payload"]["data"]["conversation_id"] == "c1"


class Recordings:
    """ElevenLabs' conversation-audio endpoint, as the worker's AudioSource sees it."""

    def __init__(self, audio: dict[str, bytes]) -> None:
        self.audio, self.fetched = audio, []

    def fetch(self, conversation_id: str) -> bytes | None:
        self.fetched.append(conversation_id)
        return self.audio.get(conversation_id)


def test_the_worker_fetches_audio_once_and_stores_audio_and_failure_webhooks(world: World) -> None:
    source = Recordings({"c1": builders.FAKE_MP3})
    world.worker_deps = replace(world.worker_deps, audio=source)
    world.call("c1", [("user", "I prefer oat milk.")])
    world.call("c2", [("user", "I like green tea.")], day=1)  # no recording at ElevenLabs
    assert world.blobs.get(world.store.files("c1")["audio"]) == builders.FAKE_MP3
    assert "audio" not in world.store.files("c2")
    assert source.fetched == ["c1", "c2"]
    assert process_call.fetch_audio("c1", world.worker_deps, source) == ""  # already stored: not fetched again
    assert source.fetched == ["c1", "c2"]

    world.worker_deps = replace(world.worker_deps, audio=None)
    _queue(world, builders.audio(conversation_id="c3", mp3=b"ID3-c3"))
    _queue(world, _failure("c4", ANN))
    worker = Worker(world.queue, world.worker_deps)
    while worker.run_once():
        pass
    assert world.blobs.get(world.store.files("c3")["audio"]) == b"ID3-c3"
    audio_row = next(r for r in world.queue.rows.values() if r.job.conversation_id == "c3")
    assert audio_row.job.body == b""  # the mp3 is a durable file now: the inbox drops the base64 copy
    stored = json.loads(world.blobs.get(world.store.files("c4")["call_initiation_failure"]))
    assert stored["data"]["failure_reason"] == "no-answer"
