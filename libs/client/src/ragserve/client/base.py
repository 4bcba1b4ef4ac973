"""What the sync and async clients share apart from the calls' descriptions
(:mod:`ragserve.client.calls`): their construction and how a stub call starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, TypeVar

import grpc

from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.client.connection import Connection
from ragserve.client.documents import DocumentSource
from ragserve.client.ingest_session import AckCallback, IngestSession
from ragserve.client.retry import RetryPolicy

ChannelT = TypeVar("ChannelT", grpc.Channel, grpc.aio.Channel)


class ClientBase(Generic[ChannelT]):
    def __init__(
        self,
        address: str | None = None,
        api_key: str | None = None,
        *,
        tls: bool | None = None,
        ca_file: Path | str | None = None,
        retry: RetryPolicy | None = None,
        connection: Connection | None = None,
    ) -> None:
        self.connection = connection or Connection.resolve(
            address, api_key, tls=tls, ca_file=ca_file
        )
        self.retry = retry or RetryPolicy()
        self._channel: ChannelT = self._open_channel()
        # Sync or asyncio stub by the channel's kind; methods are looked up by name.
        self._stub: Any = pb_grpc.GatewayServiceStub(self._channel)

    def _open_channel(self) -> ChannelT:
        raise NotImplementedError

    def _start(self, method: str, request: Any, timeout: float | None) -> Any:
        """The stub's call of ``method``: its response (awaitable in the async client) or,
        for a streaming RPC, the call to read from."""
        return getattr(self._stub, method)(
            request, metadata=self.connection.metadata(), timeout=timeout
        )

    def _session(
        self,
        sources: list[DocumentSource],
        collection: str,
        on_ack: AckCallback | None,
        max_tokens: int,
        overlap_tokens: int | None,
        timeout: float | None,
    ) -> IngestSession:
        return IngestSession(
            sources,
            collection,
            self.retry,
            on_ack=on_ack,
            max_tokens=max_tokens,
            overlap_tokens=overlap_tokens,
            timeout_s=timeout,
        )
