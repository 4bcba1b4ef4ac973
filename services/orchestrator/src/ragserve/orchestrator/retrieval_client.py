"""Retrieval over gRPC, as the core's :class:`~ragserve.orchestrator.peers.VectorPeer`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2

from ragserve.api.common.v1 import common_pb2
from ragserve.api.retrieval.v1 import retrieval_pb2 as pb
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc
from ragserve.orchestrator.model import MetadataType
from ragserve.orchestrator.peer_channels import PeerConnection
from ragserve.orchestrator.peer_errors import translate
from ragserve.orchestrator.peers import (
    Match,
    Payload,
    PayloadFilter,
    PointWrite,
    ScrollPage,
    StoredCollection,
)

PEER = "retrieval"
_SCHEMA = {
    MetadataType.KEYWORD: pb.PAYLOAD_SCHEMA_TYPE_KEYWORD,
    MetadataType.INTEGER: pb.PAYLOAD_SCHEMA_TYPE_INTEGER,
    MetadataType.FLOAT: pb.PAYLOAD_SCHEMA_TYPE_FLOAT,
    MetadataType.BOOL: pb.PAYLOAD_SCHEMA_TYPE_BOOL,
}
# Retrieval's limit on points per Upsert message.
MAX_POINTS_PER_MESSAGE = 1024


def _condition(match: Match) -> common_pb2.Condition:
    value = (
        common_pb2.MatchValue(integer=match.value)
        if isinstance(match.value, int)
        else common_pb2.MatchValue(keyword=match.value)
    )
    return common_pb2.Condition(key=match.key, match=value)


def filter_out(filter: PayloadFilter) -> common_pb2.Filter:
    return common_pb2.Filter(
        must=[_condition(m) for m in filter.must],
        must_not=[_condition(m) for m in filter.must_not],
    )


def payload_out(payload: Payload) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(payload)
    return struct


def payload_in(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def _stored(info: Any) -> StoredCollection:
    return StoredCollection(info.name, info.config.dimension, info.points_count)


class RetrievalClient(PeerConnection):
    def __init__(self, address: str, timeout_s: float, upsert_batch_points: int = 256) -> None:
        super().__init__(PEER, address, retrieval_pb2_grpc.RetrievalServiceStub)
        self._timeout_s = timeout_s
        self._batch = max(1, min(upsert_batch_points, MAX_POINTS_PER_MESSAGE))

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as error:
            raise translate(error, PEER) from None

    async def create_collection(
        self, tenant: str, name: str, dimension: int, indexes: Sequence[tuple[str, MetadataType]]
    ) -> None:
        config = pb.CollectionConfig(
            dimension=dimension,
            distance=pb.DISTANCE_COSINE,
            payload_indexes=[pb.PayloadIndex(field=k, type=_SCHEMA[t]) for k, t in indexes],
        )
        await self._call(
            self._stub.CreateCollection,
            pb.CreateCollectionRequest(tenant=tenant, name=name, config=config),
        )

    async def describe_collection(self, tenant: str, name: str) -> StoredCollection:
        response = await self._call(
            self._stub.DescribeCollection, pb.DescribeCollectionRequest(tenant=tenant, name=name)
        )
        return _stored(response.collection)

    async def list_collections(self, tenant: str) -> list[StoredCollection]:
        response = await self._call(
            self._stub.ListCollections, pb.ListCollectionsRequest(tenant=tenant)
        )
        return [_stored(info) for info in response.collections]

    async def delete_collection(self, tenant: str, name: str) -> None:
        await self._call(
            self._stub.DeleteCollection, pb.DeleteCollectionRequest(tenant=tenant, name=name)
        )

    async def upsert(self, tenant: str, name: str, points: Sequence[PointWrite]) -> None:
        messages = [
            pb.UpsertRequest(
                tenant=tenant,
                collection=name,
                points=[
                    pb.Point(
                        id=common_pb2.PointId(uuid=point.id),
                        vector=point.vector,
                        payload=payload_out(point.payload),
                    )
                    for point in points[start : start + self._batch]
                ],
            )
            for start in range(0, len(points), self._batch)
        ]
        try:
            await self._stub.Upsert(iter(messages), timeout=self._timeout_s)
        except grpc.aio.AioRpcError as error:
            raise translate(error, PEER) from None

    async def delete_by_filter(self, tenant: str, name: str, filter: PayloadFilter) -> int:
        response = await self._call(
            self._stub.DeletePoints,
            pb.DeletePointsRequest(tenant=tenant, collection=name, filter=filter_out(filter)),
        )
        return int(response.matched)

    async def count(self, tenant: str, name: str, filter: PayloadFilter | None) -> int:
        request = pb.CountPointsRequest(tenant=tenant, collection=name)
        if filter is not None:
            request.filter.CopyFrom(filter_out(filter))
        response = await self._call(self._stub.CountPoints, request)
        return int(response.count)

    async def get_payloads(
        self, tenant: str, name: str, ids: Sequence[str], keys: Sequence[str] = ()
    ) -> dict[str, Payload]:
        response = await self._call(
            self._stub.GetPoints,
            pb.GetPointsRequest(
                tenant=tenant,
                collection=name,
                ids=[common_pb2.PointId(uuid=i) for i in ids],
                with_payload=pb.PayloadSelector(include=list(keys)),
            ),
        )
        return {point.id.uuid: payload_in(point.payload) for point in response.points}

    async def scroll(
        self,
        tenant: str,
        name: str,
        *,
        filter: PayloadFilter | None,
        limit: int,
        offset: str | None = None,
    ) -> ScrollPage:
        request = pb.ScrollRequest(tenant=tenant, collection=name, limit=limit)
        if filter is not None:
            request.filter.CopyFrom(filter_out(filter))
        if offset is not None:
            request.offset.uuid = offset
        response = await self._call(self._stub.Scroll, request)
        return ScrollPage(
            [(point.id.uuid, payload_in(point.payload)) for point in response.points],
            response.next_offset.uuid if response.HasField("next_offset") else None,
        )
