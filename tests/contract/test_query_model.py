"""The memory proxy's query model (the int8 copy in minilm/int8) against the packaged fp32 model: checked at
load like it, and its vectors close enough to rank the fp32-embedded memories the same way (no fakes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from agentic_memory.adapters.embeddings.onnx import DEFAULT_MODEL_DIR, QUERY_MODEL_DIR, OnnxEmbedder
from agentic_memory.errors import EmbeddingError

# Measured (scripts/quantize_query_model.py, bench/PERF_NOTES.md item 55): lowest cosine 0.978 over 40
# utterances of 1-30 tokens, the shortest ("ok", "no thanks") the furthest; 0.97 leaves room for CPUs
# whose int8 kernels round differently.
MIN_COSINE = 0.97
UTTERANCES = ["ok", "hi", "no thanks", "yes that one please", "What is my order number again?",
              "I'd like to move my appointment to next Tuesday afternoon, if that's possible.",
              "Can you remind me which pharmacy I said I use?", "Ich möchte meine Bestellung ändern."]
MEMORIES = ["Caller's order number is A-48213.", "Caller prefers oat milk in their coffee.",
            "Appointment booked for Monday 3 pm with Dr Patel.", "Caller uses the pharmacy on Elm Street.",
            "Caller's daughter is called Emily.", "Caller is allergic to peanuts."]
QUESTIONS = {"What is my order number again?": 0, "Which milk do I take?": 1, "When is my appointment?": 2,
             "Which pharmacy do I use?": 3, "What's my daughter's name?": 4, "Anything I can't eat?": 5}


@pytest.fixture(scope="module")
def models() -> tuple[OnnxEmbedder, OnnxEmbedder]:
    return OnnxEmbedder(DEFAULT_MODEL_DIR), OnnxEmbedder(QUERY_MODEL_DIR, threads=1)


def test_the_int8_copy_has_the_same_shape_and_normalisation(models: tuple[OnnxEmbedder, OnnxEmbedder]) -> None:
    _, int8 = models
    out = int8.embed(UTTERANCES)
    assert int8.dim == 384
    assert out.shape == (len(UTTERANCES), 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)


def test_int8_and_fp32_query_vectors_agree(models: tuple[OnnxEmbedder, OnnxEmbedder]) -> None:
    fp32, int8 = models
    for text in UTTERANCES:  # one text per call, as the proxy embeds its query
        cosine = float(fp32.embed([text])[0] @ int8.embed([text])[0])
        assert cosine >= MIN_COSINE, (text, cosine)


def test_int8_queries_rank_fp32_memories_like_fp32_queries(models: tuple[OnnxEmbedder, OnnxEmbedder]) -> None:
    fp32, int8 = models
    stored = fp32.embed(MEMORIES)  # memories stay embedded by the fp32 model
    for question, expected in QUESTIONS.items():
        assert int(np.argmax(stored @ fp32.embed([question])[0])) == expected, question
        assert int(np.argmax(stored @ int8.embed([question])[0])) == expected, question


def test_the_folder_is_checksummed_and_licensed() -> None:
    assert sorted(p.name for p in QUERY_MODEL_DIR.iterdir()) == ["NOTICE", "README.md", "SHA256SUMS", "model.onnx",
                                                                 "tokenizer.json"]
    assert "Apache License, Version 2.0" in (QUERY_MODEL_DIR / "NOTICE").read_text(encoding="utf-8")
    # The tokenizer is the fp32 model's, byte for byte.
    assert (QUERY_MODEL_DIR / "tokenizer.json").read_bytes() == (DEFAULT_MODEL_DIR / "tokenizer.json").read_bytes()


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json"])
def test_a_tampered_int8_file_is_rejected_at_load(tmp_path: Path, name: str) -> None:
    model_dir = tmp_path / "int8"
    shutil.copytree(QUERY_MODEL_DIR, model_dir)
    path = model_dir / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(EmbeddingError, match="sha256"):
        OnnxEmbedder(model_dir, threads=1)
