"""domain/keyword_score.py: the index terms every store keeps and the one BM25 that scores them."""

from __future__ import annotations

import math
import threading

from agentic_memory.domain.keyword_score import (
    Candidate,
    Corpus,
    bm25,
    index_terms,
    phrase_tokens,
    query_phrases,
)


def doc(memory_id: str, text: str, keywords: str = "") -> Candidate:
    return Candidate(memory_id, index_terms(text), index_terms(keywords))


def corpus(*docs: Candidate) -> Corpus:
    return Corpus(documents=len(docs), terms=sum(len(d.text) + len(d.keywords) for d in docs))


def test_index_terms_fold_split_and_stem_like_the_old_fts5_tokenizer():
    assert index_terms("Caller's order A-48213: trips to Zürich, año") == [
        "caller", "s", "order", "a", "48213", "trip", "to", "zurich", "ano"]
    assert index_terms("is as") == ["is", "as"]  # 1-2 letter words are kept as they are
    assert index_terms("x" * 65 + "ing") == ["x" * 65 + "ing"]  # so are words over 64 letters
    assert index_terms("") == []
    assert index_terms("-- ; __") == []


def test_query_terms_become_phrases_once_and_their_tokens_the_prefilter():
    phrases = query_phrases(["a-48213", "trips", "trip", "--", "Order"])
    assert phrases == [("a", "48213"), ("trip",), ("order",)]
    assert phrase_tokens([*phrases, ("order", "a")]) == ["a", "48213", "trip", "order"]


def test_stemmers_are_per_thread_and_agree():
    seen: list[list[str]] = []
    threads = [threading.Thread(target=lambda: seen.append(index_terms("running deliveries"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [["run", "deliveri"]] * 4


def test_bm25_is_okapi_with_the_callers_statistics():
    docs = [doc("m1", "prefers oat milk"), doc("m2", "ordered a latte"), doc("m3", "milk milk milk please"),
            doc("m4", "dog called Biscuit"), doc("m5", "call after six")]
    [(best, top), (second, low)] = bm25(query_phrases(["milk"]), docs, corpus(*docs), limit=10)
    assert (best, second) == ("m3", "m1")
    idf = math.log((5 - 2 + 0.5) / (2 + 0.5))
    average = 16 / 5
    assert math.isclose(low, idf * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / average)))
    assert math.isclose(top, idf * 3 * 2.2 / (3 + 1.2 * (0.25 + 0.75 * 4 / average)))
    # A word in most of the caller's memories still counts a little (FTS5's floor), never negatively.
    [(_, common), _] = bm25(query_phrases(["milk"]), docs[:3], corpus(*docs[:3]), limit=10)
    assert 0 < common < 1e-5


def test_more_memories_without_the_word_make_it_rarer_and_worth_more():
    docs = [doc("m1", "prefers oat milk"), doc("m2", "prefers oat milk")]
    [(_, alone), _] = bm25(query_phrases(["milk"]), docs, corpus(*docs), limit=10)
    [(_, among), _] = bm25(query_phrases(["milk"]), docs, Corpus(documents=20, terms=60), limit=10)
    assert among > alone > 0


def test_keywords_count_less_than_the_text_and_phrases_must_be_whole():
    docs = [doc("t", "boiler service booked", ""), doc("k", "see you then", "boiler service")]
    assert [i for i, _ in bm25(query_phrases(["boiler"]), docs, corpus(*docs), limit=10)] == ["t", "k"]
    split = [doc("p", "order A-48213"), doc("q", "a big order 48213")]
    assert [i for i, _ in bm25(query_phrases(["a-48213"]), split, corpus(*split), limit=10)] == ["p"]


def test_equal_scores_rank_by_id_and_the_limit_holds():
    docs = [doc(i, "oat milk") for i in ("m3", "m1", "m2")]
    assert bm25(query_phrases(["milk"]), docs, corpus(*docs), limit=2) == [
        ("m1", bm25(query_phrases(["milk"]), docs, corpus(*docs), limit=1)[0][1]),
        ("m2", bm25(query_phrases(["milk"]), docs, corpus(*docs), limit=1)[0][1])]


def test_no_candidate_holding_a_phrase_scores_nothing():
    docs = [doc("m1", "prefers oat milk")]
    assert bm25(query_phrases(["tea"]), docs, corpus(*docs), limit=5) == []
    assert bm25([], docs, corpus(*docs), limit=5) == []
    # A store's snapshot that counts fewer memories than it found still gives positive scores.
    assert bm25(query_phrases(["milk"]), docs, Corpus(documents=0, terms=0), limit=5)[0][1] > 0
