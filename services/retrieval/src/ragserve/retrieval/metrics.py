"""Prometheus metrics of the retrieval service.

Label values stay bounded: the ``collection`` label is the collection name without its
tenant, and only the first ``MAX_COLLECTION_LABELS`` distinct names get their own series;
later ones share ``other``. Points per collection are summed over tenants that use the
same name.
"""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram

MAX_COLLECTION_LABELS = 100
OTHER = "other"

SEARCH_DURATION = Histogram(
    "ragserve_retrieval_search_duration_seconds",
    "Time to answer one Search call (all its queries), in the vector store",
    ["collection"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
UPSERTED_POINTS = Counter(
    "ragserve_retrieval_upserted_points_total",
    "Points acknowledged as durable by the vector store",
    ["collection"],
)
COLLECTION_POINTS = Gauge(
    "ragserve_retrieval_collection_points",
    "Points stored, per collection name (summed over tenants)",
    ["collection"],
)
BACKEND_ERRORS = Counter(
    "ragserve_retrieval_backend_errors_total",
    "Vector store calls that failed because the store was unavailable or broken",
    ["backend", "operation"],
)


class CollectionLabels:
    """Maps collection names to bounded label values and keeps the points gauge summed."""

    def __init__(self, limit: int = MAX_COLLECTION_LABELS) -> None:
        self._limit = limit
        self._labels: set[str] = set()
        self._points: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def label(self, collection: str) -> str:
        with self._lock:
            if collection in self._labels:
                return collection
            if len(self._labels) < self._limit:
                self._labels.add(collection)
                return collection
            return OTHER

    def set_points(self, physical: str, collection: str, points: int | None) -> None:
        """Records the points of one physical collection (None: it was deleted)."""
        label = self.label(collection)
        with self._lock:
            if points is None:
                self._points.pop(physical, None)
            else:
                self._points[physical] = (label, points)
            total = sum(count for lbl, count in self._points.values() if lbl == label)
        COLLECTION_POINTS.labels(label).set(total)
