"""A realistic multi-caller, multi-call replay in ElevenLabs' formats, end to end over HTTP.

Both payload shapes, retries, audio before and after its transcript, a web call, Spanish, a name
correction, a changed preference, identifiers and a long call.
"""

from __future__ import annotations

import time

import pytest

from agentic_memory.elevenlabs import builders
from tests.conftest import auth, drain, post_signed

NOW = int(time.time())
DAY = 86400
STEFAN, MARIA, PRIYA, LIZ, OMAR = "+16129782029", "+34612345678", "+447700900123", "+15550100123", "+13125550199"


def call(cid, caller, turns, *, days_ago, **kw):
    return builders.transcription(conversation_id=cid, caller=caller, turns=turns, start_time=NOW - days_ago * DAY,
                                  **kw)


def long_call():
    turns = []
    for i in range(30):
        turns.append(("agent", f"Let me check item {i} of your itinerary for you."))
        turns.append(("user", f"Sure, item {i} looks fine to me, thanks for going through it."))
    turns[31] = ("user", "By the way I'm staying in room 512 at the Harbor Hotel until Friday.")
    return turns


@pytest.fixture
def replayed(client, worker):
    return replay(client, worker)


def replay(client, worker):
    """Post every call of the replay (with a retry and audio on either side), process them, return `client`."""
    audio_first = builders.audio(conversation_id="conv_stefan_1", mp3=builders.FAKE_MP3)
    events = [
        audio_first,
        call("conv_stefan_1", STEFAN, [
            ("agent", "Thanks for calling Bean There. How can I help?"),
            ("user", "Hi, my name's Stefan. I'd like a large latte, I prefer oat milk."),
            ("agent", "Sure. Your order number is B-2291."),
            ("user", "Great, and please text me when it's ready."),
        ], days_ago=10, summary="Stefan ordered a large oat-milk latte, order B-2291.", data={"caller_name": "Stefan"}),
        call("conv_maria_1", MARIA, [
            ("agent", "¡Hola! ¿En qué puedo ayudarle?"),
            ("user", "Hola, me llamo María. Mi número de pedido es PED-7781."),
            ("agent", "Gracias María, lo reviso."),
            ("user", "Prefiero que me llamen por la tarde, por favor."),
        ], days_ago=9, language="es", summary="María preguntó por su pedido PED-7781."),
        call("conv_priya_web", None, [
            ("agent", "Hello, how can I help?"),
            ("user", "Hi, this is Priya. My claim number is 77-1234 and I want an update."),
        ], days_ago=8, user_id=PRIYA, summary="Priya asked for an update on claim 77-1234."),
        call("conv_liz_1", LIZ, [
            ("agent", "Hello, who am I speaking with?"),
            ("user", "My name is Elizabeth and I'm calling about my appointment on Monday."),
        ], days_ago=7),
        call("conv_omar_1", OMAR, [
            ("agent", "Is this Maria?"),
            ("user", "No, I'm calling for my wife Sarah, she booked the table."),
        ], days_ago=6),
        call("conv_long_1", OMAR, long_call(), days_ago=5, summary="Went through a 30-item itinerary."),
    ]
    for event in events:
        assert post_signed(client, event).status_code == 200
    assert post_signed(client, events[1]).status_code == 200  # ElevenLabs retry: same payload
    drain(worker)
    later = [
        builders.seed(conversation_id="conv_stefan_2", caller="(612) 978-2029", turns=[
            ("agent", "Welcome back! Same as usual?"),
            ("user", "Actually, switch me to almond milk instead of oat from now on."),
        ], summary="Stefan switched his milk preference to almond milk."),
        builders.audio(conversation_id="conv_stefan_2", mp3=builders.FAKE_MP3),
        call("conv_liz_2", LIZ, [
            ("agent", "Hello Elizabeth, welcome back."),
            ("user", "Actually, call me Liz, everyone does. I need to move Monday's appointment."),
        ], days_ago=1),
    ]
    for event in later:
        assert post_signed(client, event).status_code == 200
    drain(worker)
    return client


def card(client, caller):
    response = client.post("/client-data", json={"caller_id": caller}, headers=auth())
    assert response.status_code == 200
    return response.json()


def search(client, caller, query, **kw):
    response = client.post("/retrieve", json={"query": query, "user_id": caller, **kw}, headers=auth())
    assert response.status_code == 200
    memories = response.json()["memories"]
    assert all(m["user_id"] == response_caller(caller) for m in memories)
    return memories


def response_caller(raw):
    from agentic_memory.domain.phone import normalise_phone

    return normalise_phone(raw)


def test_names_and_greetings(replayed):
    stefan = card(replayed, "612-978-2029")
    assert stefan["dynamic_variables"]["caller_name"] == "Stefan"
    assert stefan["dynamic_variables"]["returning_caller"] == "yes"
    assert "Stefan" in stefan["conversation_config_override"]["agent"]["first_message"]
    maria = card(replayed, MARIA)
    assert maria["dynamic_variables"]["caller_name"] == "María"
    assert maria["conversation_config_override"]["agent"]["language"] == "es"
    assert "María" in maria["conversation_config_override"]["agent"]["first_message"]
    assert "Hola" in maria["conversation_config_override"]["agent"]["first_message"]
    assert card(replayed, PRIYA)["dynamic_variables"]["caller_name"] == "Priya"
    assert card(replayed, LIZ)["dynamic_variables"]["caller_name"] == "Liz"
    omar = card(replayed, OMAR)["dynamic_variables"]
    assert omar["caller_name"] == ""
    assert omar["returning_caller"] == "yes"
    stranger = card(replayed, "+12025550142")
    assert stranger["dynamic_variables"]["returning_caller"] == "no"


def test_the_right_memories_come_back_in_the_top_five(replayed):
    def top5(caller, query, needle):
        texts = [m["memory"] for m in search(replayed, caller, query, limit=5)]
        assert any(needle in t for t in texts), (query, texts)

    top5(STEFAN, "what was my order number?", "B-2291")
    top5(MARIA, "¿cuál es mi número de pedido?", "PED-7781")
    top5(PRIYA, "claim number", "77-1234")
    top5(OMAR, "which room am I staying in?", "room 512")
    top5(LIZ, "when is my appointment", "Monday")


def test_newer_preferences_rank_above_stale_ones(replayed):
    memories = search(replayed, STEFAN, "what milk do I take in my latte?", limit=10)
    texts = [m["memory"] for m in memories]
    almond = next(i for i, t in enumerate(texts) if "almond" in t)
    stale = [i for i, t in enumerate(texts) if "oat" in t and "almond" not in t]
    assert all(almond < i for i in stale), texts
    factual = [m["memory"] for m in search(replayed, STEFAN, "milk preference", type="factual")]
    assert "almond" in factual[0], factual
    # The superseded preference itself is history: only the old call's summary may still mention oat.
    assert not any(t.startswith("Caller prefers oat") for t in factual), factual


def test_retries_do_not_duplicate_and_audio_is_linked_either_way(replayed, deps):
    memories = search(replayed, STEFAN, "order number latte oat milk", limit=50)
    assert len({m["id"] for m in memories}) == len(memories)
    assert len({m["memory"] for m in memories if m["metadata"]["type"] == "factual"}) == len(
        [m for m in memories if m["metadata"]["type"] == "factual"])
    for cid in ("conv_stefan_1", "conv_stefan_2"):
        assert {"audio", "transcript"} <= set(deps.store.files(cid))
    assert replayed.get("/health").json()["queue"] == {"pending": 0, "dead": 0}


def test_no_caller_ever_sees_another_callers_memory(replayed):
    queries = ["order number", "milk", "claim", "room", "appointment", "pedido", "name", "Sarah", "Stefan"]
    for caller in (STEFAN, MARIA, PRIYA, LIZ, OMAR, "+12025550142"):
        for query in queries:
            for kind in (None, "factual", "semantic"):
                search(replayed, caller, query, limit=50, **({"type": kind} if kind else {}))
