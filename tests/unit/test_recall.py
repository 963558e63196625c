"""The proxy's per-turn recall on chat messages: the query, what the model already knows, the block."""

from __future__ import annotations

from datetime import UTC, datetime

from agentic_memory.domain import recall

DAY = datetime(2026, 1, 14, tzinfo=UTC)


def test_the_query_is_the_latest_utterance_with_the_agents_question_when_short():
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "I want to change my delivery address for the order"},
                {"role": "assistant", "content": "Sure. Is it the order from Monday?"},
                {"role": "user", "content": [{"type": "text", "text": "yes that one"}]}]
    assert recall.query(messages) == "Sure. Is it the order from Monday? yes that one"
    assert recall.query(messages[:2]) == "I want to change my delivery address for the order"
    assert recall.query([{"role": "system", "content": "Be brief."}]) == ""
    assert len(recall.query([{"role": "user", "content": "word " * 500}])) == recall.QUERY_LIMIT


def test_the_embedded_query_keeps_only_the_agents_last_sentence_before_a_short_utterance():
    question = "Sure, I can help with that. I see two orders on your account. Is it the order from Monday?"
    messages = [{"role": "assistant", "content": question}, {"role": "user", "content": "yes that one"}]
    assert recall.embedding_query(messages) == "Is it the order from Monday? yes that one"
    assert recall.query(messages) == f"{question} yes that one"  # the keywords keep the whole turn
    rambling = "and " * 100 + "so which one is it"
    short = recall.embedding_query([{"role": "assistant", "content": rambling},
                                    {"role": "user", "content": "the first"}])
    assert short.endswith("so which one is it the first")
    assert len(short) <= recall.EMBED_CONTEXT + len(" the first")
    long_turn = [messages[0], {"role": "user", "content": "I want to change my delivery address for the order"}]
    assert recall.embedding_query(long_turn) == recall.query(long_turn) == long_turn[1]["content"]
    assert recall.embedding_query([{"role": "user", "content": "hi"}]) == "hi"
    assert recall.embedding_query([{"role": "system", "content": "Be brief."}]) == ""


def test_what_the_model_was_told_or_said_counts_as_known_but_not_the_callers_question():
    messages = [{"role": "system", "content": "Front desk."},
                {"role": "user", "content": "Which milk do I take, and what is my order number?"},
                {"role": "assistant", "content": "Your order number is A-48213."}]
    known = recall.context_words(messages)
    assert recall.already_known("Order number is A-48213.", known)
    assert recall.already_known("Agent: Hello. Caller: my order number is A-48213 thanks", known)
    assert not recall.already_known("Caller prefers oat milk.", known)  # the question named milk, not oat
    assert not recall.already_known("Order number is B-2291.", known)
    assert recall.already_known("...", known)  # nothing to tell


def test_the_block_is_delimited_dated_capped_and_empty_when_there_is_nothing():
    assert recall.block([]) == ""
    block = recall.block([(DAY, "Prefers oat milk"), (DAY, "x" * 5000)] + [(DAY, f"fact {i}") for i in range(20)])
    lines = block.split("\n")
    assert lines[0] == recall.BEGIN
    assert lines[-1] == recall.END
    assert lines[1] == "- (2026-01-14) Prefers oat milk"
    assert len(lines) - 2 <= recall.MAX_MEMORIES
    assert len(block) <= recall.BLOCK_LIMIT


def test_the_block_goes_into_the_first_system_message_whatever_its_shape():
    block = recall.block([(DAY, "Prefers oat milk")])
    user = {"role": "user", "content": "hi"}
    as_text = recall.inject([{"role": "system", "content": "Be brief."}, user], block)
    assert as_text == [{"role": "system", "content": f"Be brief.\n\n{block}"}, user]
    parts = recall.inject([{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}, user], block)
    assert parts[0]["content"][-1] == {"type": "text", "text": block}
    assert recall.inject([user], block) == [{"role": "system", "content": block}, user]
