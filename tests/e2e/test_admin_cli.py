"""The operator's CLI: in-process against the configured data dir, and with --url against a running server
(also: several processes writing metrics in the library's multiprocess mode, summed by one scrape)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from agentic_memory.bootstrap import build
from agentic_memory.cli import app
from agentic_memory.elevenlabs import builders
from agentic_memory.elevenlabs.signature import sign
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, drain, make_settings
from tests.operator_seed import ANN, cli_env, seed_calls
from tests.security.conftest import Server

ADMIN_KEY = "amadm_cli_admin_key_0123456789abcdef"


@pytest.fixture
def data_dir(tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir holding two processed calls of Ann's, one of Bob's and one dead letter."""
    data = tmp_path / "data"
    deps = build(make_settings(data), embedder=embedder, with_worker=False)
    seed_calls(deps, b"ID3 ann audio")
    deps.close()
    cli_env(monkeypatch, data, AGENTIC_MEMORY_ADMIN_KEY=ADMIN_KEY, AGENTIC_MEMORY_RETENTION_AUDIO_DAYS="30")
    return data


def run(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_cli_operates_on_the_configured_backend(data_dir: Path, tmp_path: Path):  # noqa: ARG001 - fixture sets up the data dir
    callers = run("callers", "list", "--json")["callers"]
    assert [c["first_name"] for c in callers] == ["Bob", "Liz"]
    assert "Liz" in run("callers", "list", "415 555 0142")
    shown = run("callers", "show", "(415) 555-0142", "--json")
    assert shown["caller"]["number"] == ANN
    assert any(len(c) == 2 for c in shown["slots"].values())
    table = run("callers", "show", ANN, "--transcripts")
    assert "Memories" in table
    assert "superseded" in table
    assert "oat milk" in table
    assert run("callers", "rename", ANN, "Elizabeth", "--json")["name_source"] == "operator"
    active = next(m for m in shown["memories"] if m["status"] == "active" and "almond" in m["text"])
    edited = run("memories", "edit", active["id"], "Prefers soy milk", "--json")
    assert edited["replaces"] == active["id"]
    assert run("memories", "delete", edited["memory"]["id"], "--json") == {"deleted": edited["memory"]["id"]}
    missing = CliRunner().invoke(app, ["memories", "delete", "mem_missing"])
    assert missing.exit_code == 1
    assert "Not found" in missing.output

    [dead] = run("dead", "list", "--json")["jobs"]
    assert dead["conversation_id"] == "conv_bad"
    assert "invalid payload" in dead["error"]
    assert run("dead", "show", str(dead["id"]), "--json")["status"] == "dead"
    assert run("dead", "replay", str(dead["id"]), "--json") == {"replayed": 1}
    assert run("dead", "list", "--status", "queued", "--json")["jobs"][0]["id"] == dead["id"]
    assert CliRunner().invoke(app, ["dead", "purge"]).exit_code == 2  # neither ids nor --all
    assert run("dead", "purge", "--all", "--json") == {"purged": 0}
    assert run("retention", "run", "--json") == {"removed": {"audio": 0}}

    out = tmp_path / "ann.json"
    run("callers", "export", ANN, "--out", str(out))
    exported = json.loads(out.read_text())
    assert exported["caller"]["first_name"] == "Elizabeth"
    assert exported["calls"]
    bundle = tmp_path / "ann.zip"
    assert run("callers", "export", ANN, "--zip", str(bundle), "--json")["audio_files"] == 1
    with zipfile.ZipFile(bundle) as archive:
        assert archive.read("audio/conv_a1.mp3") == b"ID3 ann audio"
        assert json.loads(archive.read("caller.json"))["caller"]["number"] == ANN
    receipt = run("callers", "erase", ANN, "--yes", "--json")
    assert receipt["counts"]["profile"] == 1
    assert "4155550142" not in json.dumps(receipt)
    assert CliRunner().invoke(app, ["callers", "show", ANN]).exit_code == 1
    refused = CliRunner().invoke(app, ["callers", "erase", "+14155550199"], input="n\n")
    assert refused.exit_code == 1
    assert [c["first_name"] for c in run("callers", "list", "--json")["callers"]] == ["Bob"]


def test_cli_against_a_running_server_and_metrics_across_processes(data_dir: Path, tmp_path: Path):
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    env = {"AGENTIC_MEMORY_ADMIN_KEY": ADMIN_KEY, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    server = Server(data_dir, env=env)
    server.start()
    worker = subprocess.Popen([sys.executable, "-c", "from agentic_memory.cli import main; main()", "worker"],
                              env=server.env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        listed = run("callers", "list", "--url", server.url, "--json")["callers"]
        assert [c["first_name"] for c in listed] == ["Bob", "Liz"]
        shown = run("callers", "show", "415-555-0142", "--url", server.url, "--json")
        assert shown["caller"]["number"] == ANN
        assert "Bob" in run("callers", "list", "--url", server.url)
        assert run("doctor", "--url", server.url, "--json")["ok"]
        assert run("backup", "remote-1", "--url", server.url, "--json")["path"].endswith("backups/remote-1.tar.gz")
        exported = tmp_path / "remote.jsonl"
        assert run("export", str(exported), "--url", server.url, "--json")["callers"] == 2
        bundle = tmp_path / "remote.zip"
        assert run("callers", "export", ANN, "--zip", str(bundle), "--url", server.url, "--json")["audio_files"] == 1
        wrong = CliRunner().invoke(app, ["callers", "list", "--url", server.url],
                                   env={"AGENTIC_MEMORY_ADMIN_KEY": "amadm_wrong_key_0123456789abcdef"})
        assert wrong.exit_code == 1
        assert "admin key" in wrong.output

        raw = json.dumps(builders.transcription(conversation_id="conv_mp", caller=ANN, start_time=int(time.time()),
                                                turns=[("user", "I prefer green tea.")])).encode()
        ack = httpx.post(f"{server.url}/post-call", content=raw, headers={
            "ElevenLabs-Signature": sign(raw, HMAC_KEY), "Content-Type": "application/json"})
        assert ack.status_code == 200
        assert server.wait_drained(timeout=30)["queue"]["pending"] == 0
        deadline = time.monotonic() + 30
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        while time.monotonic() < deadline:
            text = httpx.get(f"{server.url}/metrics", headers={"X-Admin-Key": ADMIN_KEY}).text
            samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                       for f in text_string_to_metric_families(text) for s in f.samples}
            if samples.get(("agentic_memory_job_duration_seconds_count",
                            (("event_type", "post_call_transcription"), ("outcome", "done")))):
                break
            time.sleep(0.2)
        # Two workers (the server's own thread and the separate process) may have run it: the sum is one.
        assert samples[("agentic_memory_job_duration_seconds_count",
                        (("event_type", "post_call_transcription"), ("outcome", "done")))] == 1
        assert samples[("agentic_memory_webhook_acks_total", (("status", "200"),))] == 1
        assert len(list(metrics_dir.glob("*.db"))) >= 2  # written by more than one process
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        server.stop()


def test_every_operator_command_is_documented_with_an_example():
    from agentic_memory.cli_admin import callers_app, dead_app, memories_app, retention_app

    docs = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for group, sub in (("callers", callers_app), ("memories", memories_app), ("dead", dead_app),
                       ("retention", retention_app)):
        for command in sub.registered_commands:
            example = rf"^(?:[A-Z_]+=\S+ )?agentic-memory {group} {command.name}\b"  # a line of a code block
            assert re.search(example, docs, flags=re.MULTILINE), (group, command.name)
    for command in ("backup", "restore", "doctor", "import", "export"):
        assert re.search(rf"^agentic-memory {command}\b", docs, flags=re.MULTILINE), command


def test_backup_then_restore_gives_back_the_same_memories(
        data_dir: Path, tmp_path: Path, embedder: Any):  # noqa: ARG001 - data_dir: the fixture sets it up
    from agentic_memory.config import ensure_keys, load_settings
    from agentic_memory.services.search import SearchQuery, search

    def memories() -> list[str]:
        settings, _ = ensure_keys(load_settings(), create=False)
        deps = build(settings, embedder=embedder, with_worker=False)
        try:
            _, hits = search(SearchQuery(query="which milk do I like", user_id=ANN), engine=deps.engine)
            return [hit.memory.id for hit in hits]
        finally:
            deps.close()

    before = memories()
    assert before
    archive = tmp_path / "nightly.tar.gz"
    assert run("backup", str(archive), "--json")["path"] == str(archive)
    shown = run("callers", "show", ANN, "--json")
    active = [m["id"] for m in shown["memories"] if m["status"] == "active"]
    for memory_id in active:
        run("memories", "delete", memory_id)
    run("callers", "rename", ANN, "Elizabeth")
    assert memories() == []
    assert CliRunner().invoke(app, ["restore", str(archive)], input="n\n").exit_code == 1
    run("restore", str(archive), "--yes")
    assert memories() == before
    assert run("callers", "show", ANN, "--json")["caller"]["first_name"] == "Liz"
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tarball")
    failed = CliRunner().invoke(app, ["restore", str(broken), "--yes"])
    assert failed.exit_code == 1
    assert "backup" in failed.output


def test_doctor_reports_each_check_and_fails_on_a_problem(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    doc = run("doctor", "--json")
    assert doc["ok"]
    assert {c["name"] for c in doc["checks"]} == {
        "configuration", "keys", "database", "data dir", "model", "clock"}
    assert "Doctor" in run("doctor")
    monkeypatch.setenv("AGENTIC_MEMORY_ADMIN_KEY", "changeme")
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1
    assert {c["name"]: c["status"] for c in json.loads(result.stdout)["checks"]}["keys"] == "fail"
    monkeypatch.setenv("AGENTIC_MEMORY_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv("AGENTIC_MEMORY_DATA_DIR", str(data_dir.parent / "empty"))
    (data_dir.parent / "empty").mkdir()
    failed = CliRunner().invoke(app, ["doctor", "--json"])
    assert failed.exit_code == 1
    assert {c["name"]: c["status"] for c in json.loads(failed.stdout)["checks"]}["database"] == "fail"


def test_bulk_import_is_resumable_and_export_writes_every_memory(
        data_dir: Path, tmp_path: Path):  # noqa: ARG001 - data_dir: the fixture sets it up
    history = tmp_path / "history"
    history.mkdir()
    now = int(time.time())
    lines = [json.dumps(builders.transcription(conversation_id=f"conv_imp_{i}", caller=f"+1415555020{i}",
                                               turns=[("user", f"Hi, I'm Guest{i}. I prefer rooibos tea.")],
                                               start_time=now - 1000 + i)) for i in range(3)]
    (history / "part1.jsonl").write_text("\n".join(lines[:2]) + "\n{broken\n")
    (history / "part2.json").write_text(lines[2])
    first = run("import", str(history), "--process", "--json")
    assert first["accepted"] == 3
    assert first["invalid"] == 1
    assert first["processed"] == 3
    again = run("import", str(history), "--json")
    assert again == {"accepted": 0, "already_imported": 3, "invalid": 1}
    assert len(run("callers", "list", "--json")["callers"]) == 5
    out = tmp_path / "memories.jsonl"
    counts = run("export", str(out), "--json")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert counts == {"callers": 5, "memories": len(rows)}
    assert {"caller", "id", "text", "status", "type"} <= set(rows[0])
    assert any("rooibos" in r["text"] for r in rows if r["caller"] == "+14155550201")
    missing = CliRunner().invoke(app, ["import", str(tmp_path / "nope")])
    assert missing.exit_code == 1


def test_cli_on_postgresql_lists_erases_and_refuses_backup(tmp_path: Path, embedder: Any, pg_url: str,
                                                           monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    deps = build(make_settings(data, database_url=pg_url), embedder=embedder, with_worker=False)
    payload = builders.transcription(conversation_id="conv_pg1", caller=ANN, start_time=int(time.time()) - 100,
                                     turns=[("user", "Hi, this is Liz. I prefer oat milk in my latte.")])
    deps.queue.accept(event_type="post_call_transcription", conversation_id="conv_pg1",
                      body=json.dumps(payload).encode(), received_at=deps.clock.now()).result()
    drain(deps.make_worker())
    deps.close()
    for name in [k for k in os.environ if k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_"))]:
        monkeypatch.delenv(name)
    for name, value in (("ELEVENLABS_WORKSPACE_KEY", WORKSPACE_KEY), ("ELEVENLABS_HMAC_KEY", HMAC_KEY),
                        ("AGENTIC_MEMORY_DATA_DIR", str(data)), ("AGENTIC_MEMORY_DATABASE_URL", pg_url)):
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert [c["first_name"] for c in run("callers", "list", "--json")["callers"]] == ["Liz"]
    assert run("callers", "erase", ANN, "--yes", "--json")["counts"]["profile"] == 1
    assert run("callers", "list", "--json")["callers"] == []
    for args in (("backup", "b.tar.gz"), ("restore", "b.tar.gz", "--yes")):
        refused = CliRunner().invoke(app, list(args))
        assert refused.exit_code == 1
        assert "pg_dump" in refused.output
