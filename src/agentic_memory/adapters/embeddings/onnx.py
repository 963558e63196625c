"""Sentence embeddings with the packaged all-MiniLM-L6-v2 ONNX model (onnxruntime + tokenizers).

The model folder holds ``model.onnx`` (mean pooling and L2 normalisation are inside the graph),
``tokenizer.json`` and ``SHA256SUMS``; both files are checked against ``SHA256SUMS`` at load and
the verified bytes are what get loaded.  Nothing happens at import time: onnxruntime and
tokenizers are imported by ``OnnxEmbedder.__init__``.

Thread safety: one ``OnnxEmbedder`` may be used from several threads at once.  The onnxruntime
session's ``run`` is thread-safe, and the tokenizer is configured once in ``__init__`` and then
only read (``encode`` takes it by shared reference).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agentic_memory.errors import EmbeddingError

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "minilm"
# The same model with int8 weights, for the memory proxy's queries (scripts/quantize_query_model.py).
QUERY_MODEL_DIR = Path(__file__).resolve().parent / "minilm" / "int8"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CHECKSUMS_FILE = "SHA256SUMS"
BATCH_SIZE = 32
# Rows x padded width per model call. onnxruntime's arena keeps the peak activations of the largest call
# (attention grows with width²), so long batches are split to bound the server's memory at no cost in
# speed (measurements in bench/PERF_NOTES.md). Short queries still batch 32 at a time.
TOKEN_BUDGET = 1024
_MAX_POSITIONS = 512  # BERT position embeddings


def _read_checksums(model_dir: Path) -> dict[str, str]:
    path = model_dir / CHECKSUMS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EmbeddingError(f"cannot read {path}: {exc}") from exc
    sums: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            digest, name = parts
            sums[name.lstrip("*")] = digest.lower()
    return sums


def _read_verified(model_dir: Path, name: str, sums: dict[str, str]) -> bytes:
    path = model_dir / name
    expected = sums.get(name)
    if expected is None:
        raise EmbeddingError(f"{name} is not listed in {model_dir / CHECKSUMS_FILE}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmbeddingError(f"cannot read {path}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise EmbeddingError(f"sha256 mismatch for {path}: expected {expected}, got {actual}")
    return data


class OnnxEmbedder:
    """Embed texts into L2-normalised float32 vectors with an ONNX sentence-embedding model.

    ``embed(texts)`` returns an array of shape ``(len(texts), dim)``; row ``i`` is the embedding
    of ``texts[i]``.  Texts longer than ``max_tokens`` tokens (special tokens included) are
    truncated.  Raises :class:`EmbeddingError` if the model cannot be loaded or run.
    """

    dim: int

    def __init__(self, model_dir: Path | None = None, *, threads: int = 1, max_tokens: int = 256) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if not 2 <= max_tokens <= _MAX_POSITIONS:
            raise ValueError(f"max_tokens must be between 2 and {_MAX_POSITIONS}, got {max_tokens}")
        self.model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        self.threads = threads
        self.max_tokens = max_tokens

        sums = _read_checksums(self.model_dir)
        model_bytes = _read_verified(self.model_dir, MODEL_FILE, sums)
        tokenizer_bytes = _read_verified(self.model_dir, TOKENIZER_FILE, sums)

        # Must be set before onnxruntime is first imported, or it writes a telemetry queue to ~/.cache.
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
            tokenizer.no_padding()  # padding is done per batch below
            tokenizer.enable_truncation(max_length=max_tokens)
            pad_id = tokenizer.token_to_id("[PAD]")
        except Exception as exc:  # tokenizers raises plain Exception subclasses
            raise EmbeddingError(f"cannot load {self.model_dir / TOKENIZER_FILE}: {exc}") from exc
        self._tokenizer = tokenizer
        self._pad_id = 0 if pad_id is None else int(pad_id)

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # No busy-waiting: spinning threads take cores from concurrent callers for no single-query gain.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        # On Linux the verified bytes are handed over as an in-memory file (memfd): from a path onnxruntime
        # keeps ~95 MB less resident than from a bytes buffer (bench/PERF_NOTES.md), the memfd is exactly
        # the bytes that were checked (no second read of the model file), and dropping our copy before the
        # load lowers the peak as well.
        fd = _memory_file(model_bytes)
        source: str | bytes = model_bytes if fd is None else f"/proc/self/fd/{fd}"
        del model_bytes
        try:
            self._session = ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise EmbeddingError(f"cannot load {self.model_dir / MODEL_FILE}: {exc}") from exc
        finally:
            if fd is not None:
                os.close(fd)

        inputs = {i.name for i in self._session.get_inputs()}
        outputs = self._session.get_outputs()
        if inputs != {"input_ids", "attention_mask"} or [o.name for o in outputs] != ["embeddings"]:
            raise EmbeddingError(f"unexpected model signature in {self.model_dir / MODEL_FILE}")
        dim = outputs[0].shape[-1]
        if not isinstance(dim, int):
            raise EmbeddingError(f"model output has no fixed dimension: {outputs[0].shape}")
        self.dim = dim

    def __repr__(self) -> str:
        return f"OnnxEmbedder(model_dir={str(self.model_dir)!r}, threads={self.threads}, dim={self.dim})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return the ``(len(texts), dim)`` float32 embeddings of ``texts``, rows L2-normalised."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("embed() takes a sequence of str")
        try:
            ids = [self._tokenizer.encode(text).ids for text in texts]
        except Exception as exc:
            raise EmbeddingError(f"tokenisation failed: {exc}") from exc

        # Sort by length so each batch pads little; stable, so equal lengths keep input order.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for chunk in _batches(order, [len(i) for i in ids]):
            width = max(len(ids[i]) for i in chunk)
            input_ids = np.full((len(chunk), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(ids[i])
                input_ids[row, :n] = ids[i]
                mask[row, :n] = 1
            out[chunk] = self._run(input_ids, mask)
        return out

    def _run(self, input_ids: np.ndarray, mask: np.ndarray) -> Any:
        try:
            (vectors,) = self._session.run(["embeddings"], {"input_ids": input_ids, "attention_mask": mask})
        except Exception as exc:
            raise EmbeddingError(f"embedding model failed: {exc}") from exc
        return vectors


def _memory_file(data: bytes) -> int | None:
    """An anonymous in-memory file holding `data` (Linux), or None where there is none."""
    if not hasattr(os, "memfd_create"):
        return None
    fd = os.memfd_create("model.onnx")
    with os.fdopen(os.dup(fd), "wb") as handle:
        handle.write(data)
    return fd


def _batches(order: list[int], lengths: list[int]) -> list[list[int]]:
    """Consecutive runs of `order` (sorted by length) within BATCH_SIZE rows and TOKEN_BUDGET padded tokens."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted ascending, so the newest row sets the padded width of the whole batch.
        if current and (len(current) >= BATCH_SIZE or (len(current) + 1) * lengths[i] > TOKEN_BUDGET):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
