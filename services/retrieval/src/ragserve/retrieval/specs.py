"""JSON form of a collection spec, stored beside the data so a collection describes itself
(the embedded store's ``collection.json``; the server backend's collection metadata)."""

from __future__ import annotations

from typing import Any

from ragserve.retrieval.model import CollectionSpec, Distance, HnswSettings, PayloadFieldType


def spec_to_json(spec: CollectionSpec) -> dict[str, Any]:
    return {
        "dimension": spec.dimension,
        "distance": spec.distance.value,
        "hnsw": {
            "m": spec.hnsw.m,
            "ef_construct": spec.hnsw.ef_construct,
            "full_scan_threshold": spec.hnsw.full_scan_threshold,
        },
        "on_disk": spec.on_disk,
        "payload_indexes": {key: kind.value for key, kind in spec.payload_indexes.items()},
    }


def spec_from_json(data: dict[str, Any]) -> CollectionSpec:
    return CollectionSpec(
        dimension=int(data["dimension"]),
        distance=Distance(data["distance"]),
        hnsw=HnswSettings(
            m=int(data["hnsw"]["m"]),
            ef_construct=int(data["hnsw"]["ef_construct"]),
            full_scan_threshold=int(data["hnsw"].get("full_scan_threshold", 0)),
        ),
        on_disk=bool(data["on_disk"]),
        payload_indexes={
            key: PayloadFieldType(kind) for key, kind in data["payload_indexes"].items()
        },
    )
