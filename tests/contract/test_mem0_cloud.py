"""The Mem0 adapter on the real mem0ai SDK, against the fake Mem0 API served over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from agentic_memory.adapters.mem0 import sdk
from agentic_memory.adapters.mem0.cloud import Mem0Cloud, scope_filter
from agentic_memory.errors import EngineUnavailable
from tests.fakes.mem0_api import API_KEY, FakeMem0, serve

ALICE, BOB = "+14155550111", "+14155550122"


@pytest.fixture
def fake() -> Iterator[FakeMem0]:
    with serve() as running:
        yield running


def cloud_for(fake: FakeMem0, tmp_path: Path, *, key: str = API_KEY, timeout: float = 5.0, **ids: str) -> Mem0Cloud:
    return Mem0Cloud(partial(sdk.connect, api_key=key, host=fake.url, data_dir=tmp_path / "data",
                             timeout_secs=timeout, **ids))


@pytest.fixture
def cloud(fake: FakeMem0, tmp_path: Path) -> Iterator[Mem0Cloud]:
    built = cloud_for(fake, tmp_path)
    yield built
    built.close()


def settle(cloud: Mem0Cloud, event_id: str, polls: int = 5) -> tuple[str, ...]:
    for _ in range(polls):
        state = cloud.event(event_id)
        if state.done:
            return state.memory_ids
    raise AssertionError("event never succeeded")


def test_the_sdk_is_built_on_first_use_with_the_token_header(fake, tmp_path):
    cloud = cloud_for(fake, tmp_path)
    assert fake.requests == []  # building the adapter calls nothing
    cloud.ping()
    assert fake.count("GET", "/v1/ping/") == 2  # the SDK's constructor, then ours
    cloud.close()
    wrong = cloud_for(fake, tmp_path, key="m0-wrong-key-0123456789abcdef")
    with pytest.raises(EngineUnavailable):
        wrong.ping()


def test_an_add_is_pending_until_its_event_is_polled(cloud):
    event_id = cloud.add([{"role": "user", "content": "Prefers oat milk"}], user_id=ALICE,
                         metadata={"type": "factual"}, infer=False, timestamp=1767225600)
    assert cloud.search("oat milk", filters=scope_filter(ALICE), top_k=5) == []
    ids = settle(cloud, event_id)
    found = cloud.search("oat milk", filters=scope_filter(ALICE), top_k=5)
    assert [r["id"] for r in found] == list(ids)
    assert found[0]["user_id"] == ALICE
    assert found[0]["metadata"] == {"type": "factual"}
    assert found[0]["created_at"].startswith("2026-01-01")


def test_search_and_get_all_are_scoped_by_caller_and_type(cloud, fake):
    for user, text, kind in ((ALICE, "order A-48213", "factual"), (ALICE, "Caller: my order", "semantic"),
                             (BOB, "order Z-99999", "factual")):
        fake.seed(user_id=user, text=text, metadata={"type": kind})
    found = cloud.search("order", filters=scope_filter(ALICE, type="factual"), top_k=10)
    assert [r["memory"] for r in found] == ["order A-48213"]
    everything = {r["memory"] for r in cloud.get_all(filters=scope_filter(ALICE))}
    assert everything == {"order A-48213", "Caller: my order"}
    # An agent-scoped memory is invisible to a filter that names no agent (Mem0's implicit null scoping).
    fake.seed(user_id=ALICE, text="order scoped", metadata={"type": "factual"}, agent_id="agent_x")
    assert "order scoped" not in {r["memory"] for r in cloud.get_all(filters=scope_filter(ALICE))}
    assert [r["memory"] for r in cloud.get_all(filters=scope_filter(ALICE, agent_id="agent_x"))] == ["order scoped"]


def test_get_all_follows_every_page(cloud, fake):
    for i in range(23):
        fake.seed(user_id=ALICE, text=f"fact {i}")
    assert len(list(cloud.get_all(filters=scope_filter(ALICE), page_size=5))) == 23
    assert fake.count("POST", "/v3/memories/") == 5


def test_delete_delete_all_and_history(cloud, fake):
    first = fake.seed(user_id=ALICE, text="one")
    fake.seed(user_id=ALICE, text="two")
    fake.seed(user_id=BOB, text="three")
    cloud.delete(first)
    cloud.delete(first)  # already gone: not an error
    assert [h["event"] for h in cloud.history(first)] == ["ADD", "DELETE"]
    cloud.delete_all(user_id=ALICE)
    assert list(cloud.get_all(filters=scope_filter(ALICE))) == []
    assert [r["memory"] for r in cloud.get_all(filters=scope_filter(BOB))] == ["three"]


@pytest.mark.parametrize("failure", [429, 500, 503, "timeout"])
def test_outages_become_engine_unavailable(fake, tmp_path, failure):
    # 2 s, not less: a loaded CI machine once took over 0.5 s to answer the healthy ping.
    cloud = cloud_for(fake, tmp_path, timeout=2.0)
    cloud.ping()
    fake.timeout_secs = 4.0
    fake.fail_next = [failure]
    with pytest.raises(EngineUnavailable) as raised:
        cloud.search("anything", filters=scope_filter(ALICE), top_k=3)
    if failure == 429:
        assert raised.value.retry_after == 1.0
    assert cloud.search("anything", filters=scope_filter(ALICE), top_k=3) == []  # and it recovers
    cloud.close()


def test_mem0_down_at_first_use_is_engine_unavailable_then_recovers(fake, tmp_path):
    fake.fail_next = [503]
    cloud = cloud_for(fake, tmp_path)
    with pytest.raises(EngineUnavailable):
        cloud.ping()
    cloud.ping()
    cloud.close()


def test_a_key_of_another_project_is_refused(fake, tmp_path):
    with pytest.raises(EngineUnavailable, match="MEM0_PROJECT_ID"):
        cloud_for(fake, tmp_path, project_id="proj_someone_else").ping()
    matching = cloud_for(fake, tmp_path, org_id="org_fake", project_id="proj_fake")
    matching.ping()
    matching.close()


def test_the_fake_rejects_a_top_level_user_id_on_search(cloud):
    # What the current API does (and why every search of ours goes through `filters`).
    cloud.ping()
    response = cloud._client().client.post("/v3/memories/search/", json={"query": "x", "user_id": ALICE})
    assert response.status_code == 400


def test_importing_the_sdk_writes_only_under_the_data_dir(tmp_path):
    """A fresh interpreter: HOME is a scratch dir that must stay empty (~/.mem0 is read-only on Lambda)."""
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from agentic_memory.adapters.mem0 import sdk
        sdk.prepare_environment(Path({str(data)!r}))
        import mem0.client.main
        from mem0.memory import telemetry
        assert telemetry.MEM0_TELEMETRY is False and telemetry.client_telemetry.posthog is None
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEM0_")}
    env["HOME"] = str(home)
    subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, check=True, timeout=120)
    assert list(home.iterdir()) == []
    assert (data / "mem0" / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "home"]
