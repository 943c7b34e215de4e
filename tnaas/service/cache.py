"""One bounded cache of fitted models for every front end, keyed by exact content.

The key is (corpus content hash, model name, resolved hyperparameters): the content hash is
an injective function of the corpus's token kind and exact items, so one visitor is never
served a model fitted on another's data. The cache is bounded in entries and in bytes
(each model's arrays are measured once, after fitting); uploads are evicted before bundled
corpora, then least recently used first. Thread-safe: concurrent requests for the same key
fit once, and the others wait for that fit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_ENTRIES = 32
DEFAULT_MAX_BYTES = 400 * 1024 * 1024  # fitted models held at once, all visitors together


def approx_bytes(obj, depth: int = 4, seen: set | None = None) -> int:
    """A fitted model's memory, roughly: its numpy arrays plus its containers of strings (bytes)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth < 0:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, str | bytes):
        return 50 + len(obj)
    if isinstance(obj, dict):
        return 64 * len(obj) + sum(approx_bytes(v, depth - 1, seen) for v in obj.values())
    if isinstance(obj, list | tuple | set | frozenset):
        sample = list(obj)[:64] if not isinstance(obj, list | tuple) else obj[:64]
        each = sum(approx_bytes(v, depth - 1, seen) for v in sample) / max(1, len(sample))
        return int(16 * len(obj) + each * len(obj))
    if hasattr(obj, "__dict__"):
        return sum(approx_bytes(v, depth - 1, seen) for v in vars(obj).values())
    if hasattr(obj, "__slots__"):
        return sum(approx_bytes(getattr(obj, s, None), depth - 1, seen) for s in obj.__slots__)
    return 16


@dataclass
class _Entry:
    model: object
    nbytes: int
    upload: bool


class ModelCache:
    """Fitted models by key, bounded by `max_entries` and `max_bytes`."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._fitting: dict[tuple, threading.Lock] = {}

    def get_or_fit(self, key: tuple, fit, upload: bool = False) -> tuple[object, float | None]:
        """(model, fit milliseconds or None when it came from the cache).

        `fit()` builds the model when the key is missing; a `TnaasError` it raises
        propagates and nothing is cached.
        """
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key].model, None
            gate = self._fitting.setdefault(key, threading.Lock())
        with gate:
            with self._lock:  # another thread may have fitted it while we waited
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key].model, None
            started = time.perf_counter()
            try:
                model = fit()
            finally:
                with self._lock:
                    self._fitting.pop(key, None)
            elapsed = (time.perf_counter() - started) * 1000
            self.put(key, model, upload=upload)
            return model, elapsed

    def put(self, key: tuple, model, upload: bool = False) -> None:
        """Keep `model` under `key`, evicting uploads first, then the least recently used."""
        entry = _Entry(model, approx_bytes(model), upload)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._evict(keep=key)

    def _evict(self, keep: tuple) -> None:
        def over() -> bool:
            return len(self._entries) > self.max_entries or self.nbytes > self.max_bytes

        for uploads_only in (True, False):
            for key in [k for k, e in self._entries.items() if (e.upload or not uploads_only) and k != keep]:
                if not over():
                    return
                del self._entries[key]

    @property
    def nbytes(self) -> int:
        """Bytes held, as measured by `approx_bytes`."""
        return sum(e.nbytes for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple) -> bool:
        return key in self._entries

    def clear(self) -> None:
        """Forget every model."""
        with self._lock:
            self._entries.clear()
