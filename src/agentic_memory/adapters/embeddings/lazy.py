"""LazyEmbedder: loads the real embedder on the first call, once, whichever thread gets there first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agentic_memory.ports import Embedder

if TYPE_CHECKING:  # annotations only: until the model loads, nothing needs numpy
    import numpy as np


class LazyEmbedder:
    def __init__(self, load: Callable[[], Embedder], *, dim: int) -> None:
        self.dim = dim
        self._load = load
        self._loaded: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded.embed(texts)
