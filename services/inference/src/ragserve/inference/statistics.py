"""Cumulative per-model statistics in the shape of KServe/Triton ModelStatistics."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, seconds: float, count: int = 1) -> None:
        self.count += count
        self.ns += int(seconds * 1e9)


@dataclass
class BatchSizeStats:
    compute_infer: Duration = field(default_factory=Duration)


@dataclass
class ModelStats:
    """Totals since load. Request durations cover queue + compute; rows are inferences."""

    name: str
    version: str
    last_inference_ms: int = 0
    inference_count: int = 0
    execution_count: int = 0
    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    queue: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    by_batch_size: dict[int, BatchSizeStats] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def request_done(self, seconds: float, ok: bool) -> None:
        with self._lock:
            (self.success if ok else self.fail).add(seconds)
            if ok:
                self.last_inference_ms = int(time.time() * 1000)

    def batch_done(self, rows: int, queue_waits_s: tuple[float, ...], compute_s: float) -> None:
        with self._lock:
            self.execution_count += 1
            self.inference_count += rows
            for wait in queue_waits_s:
                self.queue.add(wait)
            self.compute_infer.add(compute_s)
            self.by_batch_size.setdefault(rows, BatchSizeStats()).compute_infer.add(compute_s)
