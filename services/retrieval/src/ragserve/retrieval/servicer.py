"""gRPC adapter of the retrieval core: protos in, domain objects to the core, protos out.

Domain errors propagate as they are; the shared runtime's error table turns them into
status codes (NOT_FOUND, INVALID_ARGUMENT with the field, ALREADY_EXISTS, UNAVAILABLE).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from ragserve.api.retrieval.v1 import retrieval_pb2 as pb
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc as pb_grpc
from ragserve.errors import InvalidArgument
from ragserve.retrieval import convert
from ragserve.retrieval.core import RetrievalCore

Context = grpc.aio.ServicerContext[Any, Any]


class RetrievalServicer(pb_grpc.RetrievalServiceServicer):
    def __init__(self, core: RetrievalCore) -> None:
        self.core = core

    async def CreateCollection(self, request: Any, context: Context) -> Any:
        info = await self.core.create_collection(
            request.tenant, request.name, convert.spec_in(request.config)
        )
        return pb.CreateCollectionResponse(collection=convert.collection_out(info))

    async def DescribeCollection(self, request: Any, context: Context) -> Any:
        info = await self.core.describe_collection(request.tenant, request.name)
        return pb.DescribeCollectionResponse(collection=convert.collection_out(info))

    async def ListCollections(self, request: Any, context: Context) -> Any:
        infos = [
            await self.core.describe_collection(request.tenant, name)
            for name in await self.core.list_collections(request.tenant)
        ]
        return pb.ListCollectionsResponse(
            collections=[convert.collection_out(info) for info in infos]
        )

    async def DeleteCollection(self, request: Any, context: Context) -> Any:
        await self.core.delete_collection(request.tenant, request.name)
        return pb.DeleteCollectionResponse()

    async def Upsert(self, request_iterator: AsyncIterator[Any], context: Context) -> Any:
        tenant = collection = ""
        upserted = batches = 0
        index = 0
        async for request in request_iterator:
            if index == 0:
                tenant, collection = request.tenant, request.collection
            elif request.tenant and request.tenant != tenant:
                raise InvalidArgument(
                    f"requests[{index}].tenant", f"differs from the stream's {tenant!r}"
                )
            elif request.collection and request.collection != collection:
                raise InvalidArgument(
                    f"requests[{index}].collection",
                    f"differs from the stream's {collection!r}",
                )
            if request.points:
                field = f"requests[{index}].points"
                points = convert.points_in(field, request.points)
                upserted += await self.core.upsert(tenant, collection, points, field=field)
                batches += 1
            index += 1
        return pb.UpsertResponse(points_upserted=upserted, batches=batches)

    async def DeletePoints(self, request: Any, context: Context) -> Any:
        selector = request.WhichOneof("selector")
        matched = 0
        if selector == "ids":
            ids = [
                convert.point_id_in(f"ids.ids[{i}]", point_id)
                for i, point_id in enumerate(request.ids.ids)
            ]
            await self.core.delete_points(request.tenant, request.collection, ids)
        elif selector == "filter":
            matched = await self.core.delete_by_filter(
                request.tenant, request.collection, convert.filter_in("filter", request.filter)
            )
        else:
            raise InvalidArgument("selector", "set ids or filter")
        return pb.DeletePointsResponse(matched=matched)

    async def CountPoints(self, request: Any, context: Context) -> Any:
        count = await self.core.count(
            request.tenant, request.collection, convert.optional_filter_in("filter", request)
        )
        return pb.CountPointsResponse(count=count)

    async def GetPoints(self, request: Any, context: Context) -> Any:
        ids = [convert.point_id_in(f"ids[{i}]", point_id) for i, point_id in enumerate(request.ids)]
        records = await self.core.retrieve(
            request.tenant,
            request.collection,
            ids,
            with_payload=convert.payload_selection_in(request),
            with_vectors=request.with_vectors,
        )
        response = pb.GetPointsResponse()
        convert.records_into(response.points, records)
        return response

    async def Scroll(self, request: Any, context: Context) -> Any:
        page = await self.core.scroll(
            request.tenant, request.collection, convert.scroll_in(request)
        )
        return convert.scroll_out(page)

    async def Search(self, request: Any, context: Context) -> Any:
        hits = await self.core.search(
            request.tenant, request.collection, convert.query_in("query", request.query)
        )
        response = pb.SearchResponse()
        convert.scored_into(response.hits, hits)
        return response

    async def SearchBatch(self, request: Any, context: Context) -> Any:
        queries = [
            convert.query_in(f"queries[{i}]", query) for i, query in enumerate(request.queries)
        ]
        results = await self.core.search_batch(request.tenant, request.collection, queries)
        response = pb.SearchBatchResponse()
        for hits in results:
            convert.scored_into(response.results.add().hits, hits)
        return response

    async def CreateSnapshot(self, request: Any, context: Context) -> Any:
        info = await self.core.create_snapshot(request.tenant, request.collection)
        return pb.CreateSnapshotResponse(snapshot=convert.snapshot_out(info))

    async def ListSnapshots(self, request: Any, context: Context) -> Any:
        infos = await self.core.list_snapshots(request.tenant, request.collection)
        return pb.ListSnapshotsResponse(snapshots=[convert.snapshot_out(info) for info in infos])

    async def RestoreSnapshot(self, request: Any, context: Context) -> Any:
        info = await self.core.restore_snapshot(
            request.tenant, request.collection, request.snapshot
        )
        return pb.RestoreSnapshotResponse(collection=convert.collection_out(info))

    async def DeleteSnapshot(self, request: Any, context: Context) -> Any:
        await self.core.delete_snapshot(request.tenant, request.collection, request.snapshot)
        return pb.DeleteSnapshotResponse()


def register(server: grpc.aio.Server, servicer: RetrievalServicer) -> list[str]:
    pb_grpc.add_RetrievalServiceServicer_to_server(servicer, server)
    return [pb.DESCRIPTOR.services_by_name["RetrievalService"].full_name]
