"""Contract tests for OnnxEmbedder against the real packaged MiniLM model (no fakes)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from agentic_memory.adapters.embeddings.onnx import DEFAULT_MODEL_DIR, OnnxEmbedder
from agentic_memory.errors import EmbeddingError

DIM = 384

MIXED = [
    "ok",
    "Hi, I'd like to reschedule my appointment to next Tuesday afternoon, if that's possible.",
    "",
    "My daughter's name is Emily.",
    "yes please",
    " ".join(["The caller explained the billing dispute about last month's late fee again."] * 12),
    "Change my delivery address to my office.",
    "I'm allergic to peanuts.",
] * 5  # 40 texts: more than one batch of 32, lengths interleaved


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder()


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shape_dtype_and_normalisation(embedder: OnnxEmbedder) -> None:
    out = embedder.embed(["hello world", "what did I order last time", "the weather is sunny"])
    assert embedder.dim == DIM
    assert out.shape == (3, DIM)
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_order_preserved_for_mixed_length_batch(embedder: OnnxEmbedder) -> None:
    batched = embedder.embed(MIXED)
    assert batched.shape == (len(MIXED), DIM)
    distinct = MIXED[:8]
    singles = np.vstack([embedder.embed([text]) for text in distinct])
    for i, text in enumerate(MIXED):
        j = distinct.index(text)
        # Each row is (up to float noise from padding) the embedding of its own text ...
        assert cos(batched[i], singles[j]) > 0.9999, (i, text[:30])
    # ... and the distinct texts really are distinguishable, so a permutation would be caught.
    sims = singles @ singles.T
    assert np.all(sims[~np.eye(len(distinct), dtype=bool)] < 0.999)


def test_paraphrase_is_closer_than_unrelated(embedder: OnnxEmbedder) -> None:
    query, paraphrase, unrelated = embedder.embed(
        ["what did I order last time", "my previous order", "the weather is sunny"]
    )
    assert cos(query, paraphrase) > cos(query, unrelated) + 0.2


def test_empty_inputs(embedder: OnnxEmbedder) -> None:
    none = embedder.embed([])
    assert none.shape == (0, DIM)
    assert none.dtype == np.float32
    assert embedder.embed(()).shape == (0, DIM)

    empty = embedder.embed([""])
    assert empty.shape == (1, DIM)
    np.testing.assert_allclose(np.linalg.norm(empty, axis=1), 1.0, atol=1e-5)
    blank = embedder.embed(["   \n\t "])
    assert blank.shape == (1, DIM)


def test_long_text_is_truncated(embedder: OnnxEmbedder) -> None:
    long_text = "word " * 5000
    out = embedder.embed([long_text, "short"])
    assert out.shape == (2, DIM)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_deterministic(embedder: OnnxEmbedder) -> None:
    first = embedder.embed(MIXED)
    second = embedder.embed(MIXED)
    assert np.array_equal(first, second)
    fresh = OnnxEmbedder().embed(MIXED[:8])
    assert np.array_equal(fresh, embedder.embed(MIXED[:8]))


def test_single_string_is_rejected(embedder: OnnxEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")
    with pytest.raises(TypeError):
        embedder.embed(["fine", 3])  # type: ignore[list-item]  # a wrong type on purpose


def test_concurrent_calls_match_serial(embedder: OnnxEmbedder) -> None:
    short = [text for text in MIXED[:8] if len(text) < 200]
    inputs = [[f"{text} #{k}" for text in short[k % 7 :] + short[: k % 7]] for k in range(16)]
    serial = [embedder.embed(texts) for texts in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(embedder.embed, inputs))
    for expected, got in zip(serial, concurrent, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_two_threads_session(embedder: OnnxEmbedder) -> None:
    two = OnnxEmbedder(threads=2)
    np.testing.assert_allclose(two.embed(MIXED[:8]), embedder.embed(MIXED[:8]), atol=1e-5)


def _copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "minilm"
    shutil.copytree(DEFAULT_MODEL_DIR, target, ignore=shutil.ignore_patterns("int8"))  # the fp32 model alone
    return target


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json"])
def test_tampered_file_is_rejected(tmp_path: Path, name: str) -> None:
    model_dir = _copy_model(tmp_path)
    path = model_dir / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(EmbeddingError, match="sha256"):
        OnnxEmbedder(model_dir)


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json", "SHA256SUMS"])
def test_missing_file_is_rejected(tmp_path: Path, name: str) -> None:
    model_dir = _copy_model(tmp_path)
    (model_dir / name).unlink()
    with pytest.raises(EmbeddingError):
        OnnxEmbedder(model_dir)


def test_untampered_copy_loads(tmp_path: Path) -> None:
    assert OnnxEmbedder(_copy_model(tmp_path)).embed(["hi"]).shape == (1, DIM)


def test_import_loads_nothing() -> None:
    code = (
        "import sys\n"
        "import agentic_memory.adapters.embeddings.onnx\n"
        "assert 'onnxruntime' not in sys.modules, 'onnxruntime imported at module import'\n"
        "assert 'tokenizers' not in sys.modules, 'tokenizers imported at module import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
