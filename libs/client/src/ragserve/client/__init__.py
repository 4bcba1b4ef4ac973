"""The Python SDK of the ragserve gateway.

    from ragserve.client import Client

    with Client() as client:  # RAGSERVE_GATEWAY_ADDR, RAGSERVE_API_KEY
        client.create_collection("docs")
        summary = client.ingest(["./handbook"], "docs")
        result = client.ask("How do I reset my password?", "docs")
        print(result.answer, [hit.document_id for hit in result.cited_hits()])

:class:`AsyncClient` offers the same methods for asyncio. Errors are
:class:`RagserveError` subclasses carrying the status code, the message, the
retry delay the server advised and the trace id.
"""

from ragserve.client.aio import AsyncClient
from ragserve.client.connection import Connection
from ragserve.client.documents import DocumentSource, collect
from ragserve.client.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RagserveError,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from ragserve.client.retry import RetryPolicy
from ragserve.client.sync import Client
from ragserve.client.types import (
    AnswerDelta,
    ApiKey,
    Citation,
    Collection,
    CreatedKey,
    Hit,
    IngestAck,
    IngestStatus,
    IngestSummary,
    Permission,
    QueryDone,
    QueryEvent,
    QueryHits,
    QueryResult,
    QueryStarted,
    QueryWarning,
)

__all__ = [
    "AlreadyExists",
    "AnswerDelta",
    "ApiKey",
    "AsyncClient",
    "Citation",
    "Client",
    "Collection",
    "Connection",
    "CreatedKey",
    "DeadlineExceeded",
    "DocumentSource",
    "FailedPrecondition",
    "Hit",
    "IngestAck",
    "IngestStatus",
    "IngestSummary",
    "InvalidArgument",
    "NotFound",
    "Permission",
    "PermissionDenied",
    "QueryDone",
    "QueryEvent",
    "QueryHits",
    "QueryResult",
    "QueryStarted",
    "QueryWarning",
    "RagserveError",
    "ResourceExhausted",
    "RetryPolicy",
    "Unauthenticated",
    "Unavailable",
    "collect",
]
