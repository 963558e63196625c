"""The console script as a newcomer uses it: first run, a real server process, the demo, the docs."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from agentic_memory.cli import app

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("agentic-memory")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_cli_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    commands = re.findall(r"^│ (\w+)\s", result.output, flags=re.MULTILINE)
    assert {"serve", "worker", "demo", "migrate"} <= set(commands)
    for command in commands:
        assert f"agentic-memory {command}" in readme, command


def test_readme_promises_match_the_makefile():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"make (\w+)", readme):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
    env_names = set(re.findall(r"`((?:ELEVENLABS|AGENTIC_MEMORY|MEM0)_[A-Z_]+)`", readme))
    config = (ROOT / "src/agentic_memory/config.py").read_text()
    assert env_names
    assert all(name in config for name in env_names)
    settings = set(re.findall(r'"((?:ELEVENLABS|AGENTIC_MEMORY|MEM0)_[A-Z_]+)"', config))
    assert settings - env_names == set(), "settings missing from the README's configuration table"


def test_first_run_generates_keys_serves_and_the_demo_passes(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_"))}
    env["AGENTIC_MEMORY_DATA_DIR"] = str(tmp_path / "data")
    server = subprocess.Popen([str(SCRIPT), "serve", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not become ready within 30 s")
        keys = json.loads((tmp_path / "data" / "keys.json").read_text())
        demo = subprocess.run([str(SCRIPT), "demo", "--url", f"http://127.0.0.1:{port}"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "Hello Stefan" in demo.stdout
        assert "B-2291" in demo.stdout
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended.
    assert server.returncode in (0, -15), output
    assert '"worker stopped"' in output
    # The generated keys are printed once, on that first run, and never logged afterwards.
    assert output.count(keys["ELEVENLABS_WORKSPACE_KEY"]) == 1


def test_the_readme_post_call_example_works(client, worker):
    from tests.conftest import auth, drain, post_signed

    readme = (ROOT / "README.md").read_text()
    body = re.search(r"^BODY='(.+)'$", readme, flags=re.MULTILINE).group(1).encode()
    assert post_signed(client, body).json() == {"status": "ok"}
    drain(worker)
    found = client.post("/retrieve", json={"query": "what is my booking number?", "user_id": "(415) 555-0123"},
                        headers=auth()).json()["memories"]
    assert found[0]["memory"] == "Caller's booking number is BK-4411."
    card = client.post("/client-data", json={"caller_id": "+14155550123"}, headers=auth()).json()
    assert card["conversation_config_override"]["agent"]["first_message"].startswith("Hello Dana! Welcome back.")
