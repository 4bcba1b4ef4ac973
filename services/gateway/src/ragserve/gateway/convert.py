"""Public messages ↔ the suite's internal ones, at the edge and only here.

The public proto imports no internal one, so each direction is spelled out: the
tenant comes from the key (never from the request), and internal details —
provider ids, costs, cache flags — have no public field to land in.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from ragserve.api.common.v1 import common_pb2 as common
from ragserve.api.embedding.v1 import embedding_pb2 as emb
from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as orch
from ragserve.gateway.keys import KeyRecord, Permission

# ------------------------------------------------------------------ collections

_METADATA_TYPES = {
    pb.METADATA_TYPE_KEYWORD: orch.METADATA_TYPE_KEYWORD,
    pb.METADATA_TYPE_INTEGER: orch.METADATA_TYPE_INTEGER,
    pb.METADATA_TYPE_FLOAT: orch.METADATA_TYPE_FLOAT,
    pb.METADATA_TYPE_BOOL: orch.METADATA_TYPE_BOOL,
}
_METADATA_TYPES_OUT = {v: k for k, v in _METADATA_TYPES.items()}


def create_collection_in(
    tenant: str, request: pb.CreateCollectionRequest, default_model: str
) -> orch.CreateCollectionRequest:
    return orch.CreateCollectionRequest(
        tenant=tenant,
        name=request.name,
        model=request.model or default_model,
        indexed_metadata=[
            orch.IndexedMetadataField(key=f.key, type=_METADATA_TYPES[f.type])
            for f in request.indexed_metadata
        ],
    )


def collection_out(summary: orch.CollectionSummary) -> pb.Collection:
    collection = pb.Collection(
        name=summary.name,
        model=summary.model,
        dimension=summary.dimension,
        chunks_count=summary.chunks_count,
        documents_count=summary.documents_count,
        indexed_metadata=[
            pb.MetadataField(
                key=f.key, type=_METADATA_TYPES_OUT.get(f.type, pb.METADATA_TYPE_UNSPECIFIED)
            )
            for f in summary.indexed_metadata
        ],
    )
    if summary.HasField("created_at"):
        collection.created_at.CopyFrom(summary.created_at)
    return collection


# ------------------------------------------------------------------ ingest


def ingest_config_in(tenant: str, config: pb.IngestConfig) -> orch.IngestRequest:
    chunking = orch.ChunkingOptions(max_tokens=config.chunking.max_tokens)
    if config.chunking.HasField("overlap_tokens"):
        chunking.overlap_tokens = config.chunking.overlap_tokens
    return orch.IngestRequest(
        config=orch.IngestConfig(tenant=tenant, collection=config.collection, chunking=chunking)
    )


def ingest_document_in(document: pb.Document) -> orch.IngestRequest:
    internal = orch.Document(id=document.id, media_type=document.media_type)
    if document.WhichOneof("content") == "text":
        internal.text = document.text
    else:
        internal.data = document.data
    if document.HasField("metadata"):
        internal.metadata.CopyFrom(document.metadata)
    return orch.IngestRequest(item=orch.IngestItem(sequence=document.sequence, document=internal))


_INGEST_STATUS = {
    orch.INGEST_STATUS_STORED: pb.INGEST_STATUS_STORED,
    orch.INGEST_STATUS_UNCHANGED: pb.INGEST_STATUS_UNCHANGED,
    orch.INGEST_STATUS_FAILED: pb.INGEST_STATUS_FAILED,
}
_INGEST_ERRORS = {
    orch.INGEST_ERROR_CODE_INVALID_ARGUMENT: pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
    orch.INGEST_ERROR_CODE_UNPARSABLE: pb.INGEST_ERROR_CODE_UNPARSABLE,
    orch.INGEST_ERROR_CODE_UNAVAILABLE: pb.INGEST_ERROR_CODE_UNAVAILABLE,
    orch.INGEST_ERROR_CODE_RESOURCE_EXHAUSTED: pb.INGEST_ERROR_CODE_RESOURCE_EXHAUSTED,
    orch.INGEST_ERROR_CODE_DEADLINE_EXCEEDED: pb.INGEST_ERROR_CODE_DEADLINE_EXCEEDED,
    orch.INGEST_ERROR_CODE_FAILED_PRECONDITION: pb.INGEST_ERROR_CODE_FAILED_PRECONDITION,
    orch.INGEST_ERROR_CODE_INTERNAL: pb.INGEST_ERROR_CODE_INTERNAL,
}


def ingest_ack_out(ack: orch.IngestResponse, acked_through: int) -> pb.IngestResponse:
    public = pb.IngestResponse(
        sequence=ack.sequence,
        document_id=ack.document_id,
        collection=ack.collection,
        status=_INGEST_STATUS.get(ack.status, pb.INGEST_STATUS_UNSPECIFIED),
        chunks=ack.chunks,
        content_hash=ack.content_hash,
        acked_through=acked_through,
    )
    if ack.HasField("error"):
        public.error.code = _INGEST_ERRORS.get(ack.error.code, pb.INGEST_ERROR_CODE_INTERNAL)
        public.error.message = ack.error.message
        public.error.retryable = ack.error.retryable
        if ack.error.HasField("retry_delay"):
            public.error.retry_delay.CopyFrom(ack.error.retry_delay)
    return public


def ack_settles(ack: orch.IngestResponse) -> bool:
    """Whether an ack ends the document's story for resuming (anything but a retryable failure)."""
    return not (ack.status == orch.INGEST_STATUS_FAILED and ack.error.retryable)


# ------------------------------------------------------------------ documents


def document_info_out(info: orch.DocumentInfo) -> pb.DocumentInfo:
    public = pb.DocumentInfo(
        id=info.id, chunks=info.chunks, content_hash=info.content_hash, media_type=info.media_type
    )
    if info.HasField("ingested_at"):
        public.ingested_at.CopyFrom(info.ingested_at)
    if info.HasField("metadata"):
        public.metadata.CopyFrom(info.metadata)
    return public


# ------------------------------------------------------------------ filters


def filter_in(value: pb.Filter) -> common.Filter:
    return common.Filter(
        must=[_condition_in(c) for c in value.must],
        should=[_condition_in(c) for c in value.should],
        must_not=[_condition_in(c) for c in value.must_not],
    )


def _condition_in(condition: pb.Condition) -> common.Condition:
    internal = common.Condition(key=condition.key)
    kind = condition.WhichOneof("condition")
    if kind == "match":
        value_kind = condition.match.WhichOneof("value")
        if value_kind == "keyword":
            internal.match.keyword = condition.match.keyword
        elif value_kind == "integer":
            internal.match.integer = condition.match.integer
        elif value_kind == "boolean":
            internal.match.boolean = condition.match.boolean
    elif kind == "match_any":
        internal.match_any.keywords.extend(condition.match_any.keywords)
        internal.match_any.integers.extend(condition.match_any.integers)
    elif kind == "range":
        for bound in ("gt", "gte", "lt", "lte"):
            if condition.range.HasField(bound):
                setattr(internal.range, bound, getattr(condition.range, bound))
    elif kind == "nested":
        internal.nested.CopyFrom(filter_in(condition.nested))
    return internal


# ------------------------------------------------------------------ query and search

_GENERATORS = {
    pb.GENERATOR_UNSPECIFIED: orch.GENERATOR_UNSPECIFIED,
    pb.GENERATOR_EXTRACTIVE: orch.GENERATOR_EXTRACTIVE,
    pb.GENERATOR_CHAT: orch.GENERATOR_CHAT,
}
_GENERATORS_OUT = {v: k for k, v in _GENERATORS.items()}


def query_in(tenant: str, request: pb.QueryRequest | pb.SearchRequest) -> orch.QueryRequest:
    internal = orch.QueryRequest(
        tenant=tenant,
        collections=list(request.collections),
        query=request.query,
        top_k=request.top_k,
        offset=request.offset,
    )
    if request.HasField("filter"):
        internal.filter.CopyFrom(filter_in(request.filter))
    if request.HasField("score_threshold"):
        internal.score_threshold = request.score_threshold
    if isinstance(request, pb.QueryRequest):
        internal.allow_partial_results = request.allow_partial_results
        if request.HasField("diversity"):
            internal.mmr.diversity = request.diversity.diversity
            internal.mmr.candidates = request.diversity.candidates
        if request.HasField("answer"):
            internal.answer.generator = _GENERATORS[request.answer.generator]
            internal.answer.max_answer_tokens = request.answer.max_answer_tokens
            internal.answer.max_context_chunks = request.answer.max_context_chunks
    return internal


def hit_out(hit: orch.Hit) -> pb.Hit:
    public = pb.Hit()
    _fill_hit(public, hit)
    return public


def _fill_hit(public: pb.Hit, hit: orch.Hit) -> None:
    # Field by field into a message already in place (``hits.add()``): about half the
    # time of building each message and sub-message from keyword arguments.
    public.collection = hit.collection
    public.document_id = hit.document_id
    public.chunk_index = hit.chunk_index
    public.text = hit.text
    public.score = hit.score
    public.media_type = hit.media_type
    source = public.source
    source.char_start = hit.start
    source.char_end = hit.end
    source.page = hit.page
    source.heading_path.extend(hit.heading_path)
    if hit.HasField("metadata"):
        public.metadata.CopyFrom(hit.metadata)


def hits_out(hits: Iterable[orch.Hit], into: RepeatedCompositeFieldContainer[pb.Hit]) -> None:
    for hit in hits:
        _fill_hit(into.add(), hit)


_STAGES = {
    orch.STAGE_EMBED: pb.STAGE_EMBED,
    orch.STAGE_SEARCH: pb.STAGE_SEARCH,
    orch.STAGE_MERGE: pb.STAGE_MERGE,
    orch.STAGE_MMR: pb.STAGE_DIVERSITY,
    orch.STAGE_GENERATE: pb.STAGE_GENERATE,
}
_WARNINGS = {
    orch.WARNING_CODE_COLLECTION_FAILED: pb.WARNING_CODE_COLLECTION_FAILED,
    orch.WARNING_CODE_GENERATOR_FAILED: pb.WARNING_CODE_GENERATOR_FAILED,
    orch.WARNING_CODE_ANSWER_TRUNCATED: pb.WARNING_CODE_ANSWER_TRUNCATED,
}


def query_event_out(event: orch.QueryResponse, total_ms: float) -> pb.QueryResponse | None:
    """The public event for an internal one; None for one with no public form."""
    kind = event.WhichOneof("event")
    if kind == "start":
        return pb.QueryResponse(started=pb.QueryStarted(trace_id=event.start.trace_id))
    if kind == "hits":
        public = pb.QueryResponse()
        hits_out(event.hits.hits, public.hits.hits)
        return public
    if kind == "answer":
        return pb.QueryResponse(answer=pb.AnswerDelta(text=event.answer.text_delta))
    if kind == "citation":
        c = event.citation
        return pb.QueryResponse(
            citation=pb.Citation(
                hit_index=c.hit_index,
                answer_start=c.answer_start,
                answer_end=c.answer_end,
                source_start=c.source_start,
                source_end=c.source_end,
            )
        )
    if kind == "warning":
        w = event.warning
        return pb.QueryResponse(
            warning=pb.QueryWarning(
                code=_WARNINGS.get(w.code, pb.WARNING_CODE_UNSPECIFIED),
                subject=w.subject,
                message=w.message,
            )
        )
    if kind == "done":
        d = event.done
        return pb.QueryResponse(
            done=pb.QueryDone(
                timings=[
                    pb.StageTiming(
                        stage=_STAGES.get(t.stage, pb.STAGE_UNSPECIFIED),
                        collection=t.collection,
                        duration_ms=t.duration_ms,
                    )
                    for t in d.timings
                ],
                usage=pb.Usage(
                    embedding_tokens=d.usage.embedding_tokens,
                    prompt_tokens=d.usage.prompt_tokens,
                    completion_tokens=d.usage.completion_tokens,
                ),
                total_ms=total_ms,
                generator=_GENERATORS_OUT.get(d.generator, pb.GENERATOR_UNSPECIFIED),
            )
        )
    return None


# ------------------------------------------------------------------ embeddings

_TRUNCATION = {
    pb.TRUNCATION_UNSPECIFIED: common.TRUNCATION_UNSPECIFIED,
    pb.TRUNCATION_TRUNCATE: common.TRUNCATION_TRUNCATE,
    pb.TRUNCATION_REFUSE: common.TRUNCATION_REFUSE,
}


def embed_in(tenant: str, request: pb.EmbedRequest) -> emb.EmbedRequest:
    return emb.EmbedRequest(
        tenant=tenant,
        model=request.model,
        texts=list(request.texts),
        truncation=_TRUNCATION[request.truncation],
    )


def embed_out(response: emb.EmbedResponse) -> pb.EmbedResponse:
    return pb.EmbedResponse(
        model=response.model,
        model_version=response.model_version,
        dimension=response.dimension,
        embeddings=[pb.Embedding(values=e.vector) for e in response.embeddings],
    )


# ------------------------------------------------------------------ API keys

PERMISSIONS_IN = {
    pb.PERMISSION_READ: Permission.READ,
    pb.PERMISSION_WRITE: Permission.WRITE,
    pb.PERMISSION_ADMIN: Permission.ADMIN,
}
_PERMISSIONS_OUT = {v: k for k, v in PERMISSIONS_IN.items()}


def api_key_out(record: KeyRecord) -> pb.ApiKey:
    key = pb.ApiKey(
        id=record.id,
        tenant=record.tenant,
        permissions=sorted(_PERMISSIONS_OUT[p] for p in record.permissions),
        description=record.description,
    )
    key.created_at.FromNanoseconds(int(record.created_at * 1e9))
    if record.expires_at is not None:
        key.expires_at.FromNanoseconds(int(record.expires_at * 1e9))
    if record.revoked_at is not None:
        key.revoked_at.FromNanoseconds(int(record.revoked_at * 1e9))
    return key
