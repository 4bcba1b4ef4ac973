"""Collections: a retrieval collection per orchestrator collection, bound to one model.

The binding (model, dimension, indexed metadata) is a point in the tenant's registry
collection (see :mod:`ragserve.orchestrator.payload`). Creation makes the retrieval
collection first — retrieval's ALREADY_EXISTS decides a race — then writes the record; a
create that crashed between the two is finished by the next create of the same name
(the existing collection is adopted when its dimension is the model's).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from ragserve.errors import AlreadyExists, InvalidArgument, NotFound
from ragserve.orchestrator import payload, validation
from ragserve.orchestrator.manifests import DocumentManifests
from ragserve.orchestrator.model import (
    CollectionRecord,
    CollectionView,
    IndexedField,
    MetadataType,
)
from ragserve.orchestrator.peers import EmbeddingPeer, Match, PayloadFilter, PointWrite, VectorPeer

# Payload indexes every collection gets: chunk lookups by document, version and position.
BASE_INDEXES: tuple[tuple[str, MetadataType], ...] = (
    (payload.DOCUMENT_ID, MetadataType.KEYWORD),
    (payload.CONTENT_HASH, MetadataType.KEYWORD),
    (payload.CHUNK_INDEX, MetadataType.INTEGER),
)
# GetPoints takes at most this many ids per call.
_IDS_PER_CALL = 1024


def _record_payload(record: CollectionRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "model": record.model,
        "dimension": record.dimension,
        "indexed": [{"key": f.key, "type": f.type.value} for f in record.indexed],
        "created_at": record.created_at,
    }


def _record_in(stored: Any) -> CollectionRecord:
    return CollectionRecord(
        name=str(stored["name"]),
        model=str(stored["model"]),
        dimension=int(stored["dimension"]),
        indexed=tuple(
            IndexedField(str(f["key"]), MetadataType(f["type"])) for f in stored.get("indexed", [])
        ),
        created_at=float(stored.get("created_at", 0.0)),
    )


def not_found(name: str) -> NotFound:
    return NotFound(f"collection {validation.shown(name)} does not exist")


class Collections:
    def __init__(
        self,
        vectors: VectorPeer,
        embedding: EmbeddingPeer,
        wall_clock: Callable[[], float] = time.time,
        manifests: DocumentManifests | None = None,
    ) -> None:
        self._vectors = vectors
        self._manifests = manifests or DocumentManifests(vectors)
        self._embedding = embedding
        self._wall_clock = wall_clock
        # Tenants whose registry collection is known to exist.
        self._registries: set[str] = set()

    async def create(
        self, tenant: str, name: str, model: str, indexed: Sequence[IndexedField]
    ) -> CollectionView:
        validation.tenant(tenant)
        validation.collection_name(name, "name")
        validation.model_id(model)
        fields = validation.indexed_fields(indexed)
        models = await self._embedding.list_models()
        found = next((m for m in models if m.id == model), None)
        if found is None:
            served = ", ".join(sorted(m.id for m in models))
            raise NotFound(
                f"model {validation.shown(model)} is not served by the embedding router "
                f"(models: {served})"
            )
        indexes = [*BASE_INDEXES, *((payload.metadata_path(f.key), f.type) for f in fields)]
        record = CollectionRecord(name, model, found.dimension, fields, self._wall_clock())
        try:
            await self._vectors.create_collection(tenant, name, found.dimension, indexes)
        except AlreadyExists:
            if await self._record(tenant, name) is not None:
                raise AlreadyExists(f"collection {name!r} already exists") from None
            # A create that stopped before its record: adopt what it made if it fits.
            existing = await self._vectors.describe_collection(tenant, name)
            if existing.dimension != found.dimension:
                raise AlreadyExists(f"collection {name!r} already exists") from None
        # Manifests under this name can only be left over (an ingest that raced a delete of
        # an earlier collection so named): the new collection starts with no documents.
        await self._manifests.delete_collection(tenant, name)
        await self._write_record(tenant, record)
        return CollectionView(record, 0, 0)

    async def resolve(self, tenant: str, name: str, field: str = "name") -> CollectionRecord:
        """The collection's record; NotFound when it does not exist."""
        self._check_name(tenant, name, field)
        record = await self._record(tenant, name)
        if record is None:
            raise not_found(name)
        return record

    @staticmethod
    def _check_name(tenant: str, name: str, field: str = "name") -> None:
        validation.tenant(tenant)
        if not validation.COLLECTION_NAME.fullmatch(name):
            if not name:
                raise InvalidArgument(field, "must name a collection")
            raise not_found(name)

    async def get(self, tenant: str, name: str) -> CollectionView:
        self._check_name(tenant, name)
        # Three independent reads of retrieval at once (each a hop of ~2 ms): the record,
        # the vector collection's counts and the documents' manifests. The record decides:
        # without it the collection does not exist, whatever the others found.
        record, stored, documents = await asyncio.gather(
            self._record(tenant, name),
            self._vectors.describe_collection(tenant, name),
            self._manifests.count(tenant, name),
            return_exceptions=True,
        )
        if isinstance(record, BaseException):
            raise record
        if record is None or isinstance(stored, NotFound):
            raise not_found(name)
        if isinstance(stored, BaseException):
            raise stored
        if isinstance(documents, BaseException):
            raise documents
        points = stored.points_count
        return CollectionView(record, points, documents if points else 0)

    async def list(self, tenant: str) -> list[CollectionView]:
        validation.tenant(tenant)
        stored = [
            c for c in await self._vectors.list_collections(tenant) if not c.name.startswith("_")
        ]
        if not stored:
            return []
        records = await self._records(tenant, [c.name for c in stored])
        views = await asyncio.gather(
            *(
                self._view(tenant, records[c.name], c.points_count)
                for c in stored
                if c.name in records
            )
        )
        return sorted(views, key=lambda v: v.record.name)

    async def delete(self, tenant: str, name: str) -> None:
        await self.resolve(tenant, name)
        with contextlib.suppress(NotFound):  # a delete that stopped before its record
            await self._vectors.delete_collection(tenant, name)
        # Before the record: a delete that stops here is finished by the next delete.
        await self._manifests.delete_collection(tenant, name)
        await self._vectors.delete_by_filter(
            tenant, payload.REGISTRY_COLLECTION, PayloadFilter(must=(Match("name", name),))
        )

    async def _view(self, tenant: str, record: CollectionRecord, points: int) -> CollectionView:
        documents = await self._manifests.count(tenant, record.name) if points else 0
        return CollectionView(record, points, documents)

    async def _record(self, tenant: str, name: str) -> CollectionRecord | None:
        return (await self._records(tenant, [name])).get(name)

    async def _records(self, tenant: str, names: Sequence[str]) -> dict[str, CollectionRecord]:
        ids = {payload.registry_id(name): name for name in names}
        found: dict[str, CollectionRecord] = {}
        keys = list(ids)
        for start in range(0, len(keys), _IDS_PER_CALL):
            try:
                stored = await self._vectors.get_payloads(
                    tenant, payload.REGISTRY_COLLECTION, keys[start : start + _IDS_PER_CALL]
                )
            except NotFound:
                return {}  # no registry yet: the tenant never created a collection
            for point_id, values in stored.items():
                record = _record_in(values)
                if ids.get(point_id) == record.name:
                    found[record.name] = record
        return found

    async def _write_record(self, tenant: str, record: CollectionRecord) -> None:
        if tenant not in self._registries:
            with contextlib.suppress(AlreadyExists):
                await self._vectors.create_collection(
                    tenant, payload.REGISTRY_COLLECTION, len(payload.REGISTRY_VECTOR), []
                )
            self._registries.add(tenant)
        await self._vectors.upsert(
            tenant,
            payload.REGISTRY_COLLECTION,
            [
                PointWrite(
                    payload.registry_id(record.name),
                    payload.REGISTRY_VECTOR,
                    _record_payload(record),
                )
            ],
        )
