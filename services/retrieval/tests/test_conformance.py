"""One behaviour, both backends: every test here runs on the embedded engine and on the
qdrant-client backend (local mode, or a real server when QDRANT_URL is set)."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from ragserve.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from ragserve.retrieval.core import RetrievalCore
from ragserve.retrieval.model import (
    CollectionSpec,
    Distance,
    FieldCondition,
    Filter,
    IndexState,
    MatchAny,
    MatchValue,
    PayloadFieldType,
    Point,
    Range,
    ScrollQuery,
    SearchQuery,
)

# One event loop for the module: the embedded store (one worker) is shared by its tests.
pytestmark = pytest.mark.asyncio(loop_scope="module")

DIMENSION = 8


def unit_vectors(count: int, seed: int = 7) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


SPEC = CollectionSpec(
    dimension=DIMENSION,
    payload_indexes={"doc": PayloadFieldType.KEYWORD, "rank": PayloadFieldType.INTEGER},
)


def points(count: int = 40, seed: int = 7) -> list[Point]:
    vectors = unit_vectors(count, seed)
    return [
        Point(
            id=index,
            vector=tuple(float(x) for x in vectors[index]),
            payload={"doc": f"doc-{index % 4}", "rank": index, "title": f"chunk {index}"},
        )
        for index in range(count)
    ]


async def loaded(core: RetrievalCore, tenant: str, name: str = "docs") -> list[Point]:
    await core.create_collection(tenant, name, SPEC)
    batch = points()
    await core.upsert(tenant, name, batch)
    return batch


def exact_top(batch: list[Point], query: tuple[float, ...], k: int) -> list[int]:
    matrix = np.array([p.vector for p in batch])
    scores = matrix @ np.array(query)
    return [int(batch[i].id) for i in np.argsort(-scores, kind="stable")[:k]]


# ---------------------------------------------------------------------------- collections


async def test_create_describe_list_delete(core: RetrievalCore, tenant: str) -> None:
    info = await core.create_collection(tenant, "docs", SPEC)
    assert (info.name, info.spec, info.points_count, info.indexed_vectors_count) == (
        "docs",
        SPEC,
        0,
        0,
    )
    assert info.index_state == IndexState.EXACT
    await core.create_collection(tenant, "notes", CollectionSpec(dimension=4))
    assert await core.list_collections(tenant) == ["docs", "notes"]
    await core.delete_collection(tenant, "notes")
    assert await core.list_collections(tenant) == ["docs"]
    with pytest.raises(NotFound, match="collection 'notes' does not exist"):
        await core.describe_collection(tenant, "notes")
    with pytest.raises(NotFound, match="collection 'notes' does not exist"):
        await core.delete_collection(tenant, "notes")


async def test_create_twice_is_already_exists(core: RetrievalCore, tenant: str) -> None:
    await core.create_collection(tenant, "docs", SPEC)
    with pytest.raises(AlreadyExists, match="collection 'docs' already exists"):
        await core.create_collection(tenant, "docs", SPEC)


async def test_bad_names_and_specs(core: RetrievalCore, tenant: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await core.create_collection(tenant, "bad.name", SPEC)
    assert caught.value.field == "collection"
    with pytest.raises(InvalidArgument) as caught:
        await core.create_collection(tenant, "docs", CollectionSpec(dimension=0))
    assert (caught.value.field, caught.value.reason) == (
        "config.dimension",
        "0 is outside [1, 65536]",
    )


async def test_operations_on_missing_collection_are_not_found(
    core: RetrievalCore, tenant: str
) -> None:
    query = SearchQuery(vector=(1.0,) * DIMENSION)
    for call in (
        core.search(tenant, "missing", query),
        core.upsert(tenant, "missing", points(1)),
        core.count(tenant, "missing"),
        core.retrieve(tenant, "missing", [1]),
    ):
        with pytest.raises(NotFound, match="collection 'missing' does not exist"):
            await call


# ---------------------------------------------------------------------------- search


async def test_top_hit_of_a_stored_vector_is_itself(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    for point in batch[:5]:
        hits = await core.search(tenant, "docs", SearchQuery(vector=point.vector, limit=5))
        assert hits[0].id == point.id
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert [hit.id for hit in hits] == exact_top(batch, point.vector, 5)
        assert hits[0].payload == dict(point.payload)
        assert hits[0].vector is None


@pytest.mark.parametrize(("distance", "best_score"), [(Distance.DOT, 1.0), (Distance.EUCLID, 0.0)])
async def test_other_distances(
    core: RetrievalCore, tenant: str, distance: Distance, best_score: float
) -> None:
    await core.create_collection(
        tenant, "d", CollectionSpec(dimension=DIMENSION, distance=distance)
    )
    batch = points(20)
    await core.upsert(tenant, "d", batch)
    hits = await core.search(tenant, "d", SearchQuery(vector=batch[3].vector, limit=3))
    assert hits[0].id == 3
    assert hits[0].score == pytest.approx(best_score, abs=1e-5)


async def test_filters(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    query = batch[0].vector

    async def ids(filter: Filter, limit: int = 40) -> set[int]:
        hits = await core.search(tenant, "docs", SearchQuery(query, limit=limit, filter=filter))
        return {int(hit.id) for hit in hits}

    doc1 = {i for i in range(40) if i % 4 == 1}
    assert await ids(Filter(must=(FieldCondition("doc", MatchValue("doc-1")),))) == doc1
    assert await ids(Filter(must=(FieldCondition("rank", range=Range(gte=10, lt=13)),))) == {
        10,
        11,
        12,
    }
    any_of = Filter(must=(FieldCondition("doc", MatchAny(("doc-1", "doc-2"))),))
    assert await ids(any_of) == {i for i in range(40) if i % 4 in (1, 2)}
    assert await ids(Filter(must=(FieldCondition("rank", MatchAny((3, 5))),))) == {3, 5}
    not_doc1 = Filter(must_not=(FieldCondition("doc", MatchValue("doc-1")),))
    assert await ids(not_doc1) == set(range(40)) - doc1
    either = Filter(
        should=(
            FieldCondition("rank", MatchValue(2)),
            FieldCondition("rank", range=Range(gt=37)),
        )
    )
    assert await ids(either) == {2, 38, 39}
    nested = Filter(
        must=(
            FieldCondition("doc", MatchValue("doc-0")),
            Filter(must_not=(FieldCondition("rank", range=Range(lte=20)),)),
        )
    )
    assert await ids(nested) == {24, 28, 32, 36}
    # Filtered top-k is the exact top-k among the matching points.
    filtered = await core.search(
        tenant,
        "docs",
        SearchQuery(
            query, limit=3, filter=Filter(must=(FieldCondition("doc", MatchValue("doc-2")),))
        ),
    )
    matching = [p for p in batch if p.payload["doc"] == "doc-2"]
    assert [hit.id for hit in filtered] == exact_top(matching, query, 3)


async def test_score_threshold_and_limit(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    everything = await core.search(tenant, "docs", SearchQuery(batch[0].vector, limit=40))
    threshold = everything[4].score - 1e-6
    hits = await core.search(
        tenant, "docs", SearchQuery(batch[0].vector, limit=40, score_threshold=threshold)
    )
    assert [hit.id for hit in hits] == [hit.id for hit in everything[:5]]
    assert len(await core.search(tenant, "docs", SearchQuery(batch[0].vector, limit=7))) == 7


async def test_payload_selection_and_vectors(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    query = batch[5].vector
    only_doc = await core.search(tenant, "docs", SearchQuery(query, limit=1, with_payload=("doc",)))
    assert only_doc[0].payload == {"doc": "doc-1"}
    none = await core.search(tenant, "docs", SearchQuery(query, limit=1, with_payload=False))
    assert none[0].payload is None
    with_vector = await core.search(tenant, "docs", SearchQuery(query, limit=1, with_vectors=True))
    assert with_vector[0].vector == pytest.approx(batch[5].vector, abs=1e-5)


async def test_batch_search_answers_each_query_in_order(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    queries = [SearchQuery(batch[i].vector, limit=2) for i in (7, 3, 30)]
    results = await core.search_batch(tenant, "docs", queries)
    assert [hits[0].id for hits in results] == [7, 3, 30]
    assert all(len(hits) == 2 for hits in results)


# ---------------------------------------------------------------------------- points


async def test_upsert_is_idempotent_and_replaces(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    await core.upsert(tenant, "docs", batch)
    assert await core.count(tenant, "docs") == 40
    changed = Point(3, batch[3].vector, {"doc": "changed"})
    await core.upsert(tenant, "docs", [changed])
    assert await core.count(tenant, "docs") == 40
    [record] = await core.retrieve(tenant, "docs", [3])
    assert record.payload == {"doc": "changed"}


async def test_delete_by_ids_and_by_filter_and_count(core: RetrievalCore, tenant: str) -> None:
    await loaded(core, tenant)
    doc2 = Filter(must=(FieldCondition("doc", MatchValue("doc-2")),))
    assert await core.count(tenant, "docs", doc2) == 10
    assert await core.delete_by_filter(tenant, "docs", doc2) == 10
    assert await core.count(tenant, "docs", doc2) == 0
    assert await core.delete_by_filter(tenant, "docs", doc2) == 0
    await core.delete_points(tenant, "docs", [0, 1, 999])
    assert await core.count(tenant, "docs") == 28
    assert await core.retrieve(tenant, "docs", [0, 1, 4]) == await core.retrieve(
        tenant, "docs", [4]
    )
    with pytest.raises(InvalidArgument) as caught:
        await core.delete_by_filter(tenant, "docs", Filter())
    assert caught.value.field == "filter"


async def test_retrieve_keeps_request_order_and_skips_missing(
    core: RetrievalCore, tenant: str
) -> None:
    batch = await loaded(core, tenant)
    records = await core.retrieve(tenant, "docs", [9, 12345, 2], with_vectors=True)
    assert [r.id for r in records] == [9, 2]
    assert records[0].vector == pytest.approx(batch[9].vector, abs=1e-5)
    assert records[1].payload == dict(batch[2].payload)


async def test_uuid_ids_are_canonical_and_other_strings_rejected(
    core: RetrievalCore, tenant: str
) -> None:
    await core.create_collection(tenant, "docs", SPEC)
    key = uuid.uuid5(uuid.NAMESPACE_URL, "doc-1#0")
    vector = tuple(float(x) for x in unit_vectors(1)[0])
    await core.upsert(tenant, "docs", [Point(str(key).upper(), vector, {"doc": "a"})])
    hits = await core.search(tenant, "docs", SearchQuery(vector, limit=1))
    assert hits[0].id == str(key)
    with pytest.raises(InvalidArgument) as caught:
        await core.upsert(tenant, "docs", [Point("doc-1#0", vector)])
    assert caught.value.field == "points[0].id"
    assert "string point ids must be UUIDs" in caught.value.reason


async def test_wrong_dimension_names_the_field(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    bad = [batch[0], Point(99, (1.0, 0.0, 0.0))]
    with pytest.raises(InvalidArgument) as caught:
        await core.upsert(tenant, "docs", bad)
    assert (caught.value.field, caught.value.reason) == (
        "points[1].vector",
        "has 3 dimensions, collection 'docs' expects 8",
    )
    with pytest.raises(InvalidArgument) as caught:
        await core.search(tenant, "docs", SearchQuery((1.0,) * 9))
    assert caught.value.field == "query.vector"
    with pytest.raises(InvalidArgument) as caught:
        await core.search_batch(tenant, "docs", [SearchQuery(batch[0].vector), SearchQuery((1.0,))])
    assert caught.value.field == "queries[1].vector"


async def test_bad_filters_name_the_field(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    cases = [
        (Filter(must=(FieldCondition("", MatchValue("x")),)), "query.filter.must[0].key"),
        (Filter(should=(FieldCondition("rank"),)), "query.filter.should[0]"),
        (Filter(must=(FieldCondition("rank", range=Range()),)), "query.filter.must[0].range"),
        (
            Filter(must_not=(Filter(must=(FieldCondition("doc", MatchAny(())),)),)),
            "query.filter.must_not[0].must[0].match.any",
        ),
        (
            Filter(must=(FieldCondition("rank", MatchValue(2**63)),)),
            "query.filter.must[0].match.value",
        ),
        (
            Filter(must=(FieldCondition("rank", MatchAny((1, -(2**63) - 1))),)),
            "query.filter.must[0].match.any",
        ),
    ]
    for filter, field in cases:
        with pytest.raises(InvalidArgument) as caught:
            await core.search(tenant, "docs", SearchQuery(batch[0].vector, filter=filter))
        assert caught.value.field == field


# ---------------------------------------------------------------------------- scroll


async def test_scroll_pages_through_every_point_in_id_order(
    core: RetrievalCore, tenant: str
) -> None:
    batch = await loaded(core, tenant)
    seen: list[object] = []
    offset: object = None
    pages = 0
    while True:
        page = await core.scroll(
            tenant,
            "docs",
            ScrollQuery(limit=7, offset=offset, with_payload=("rank",)),  # type: ignore[arg-type]
        )
        pages += 1
        assert len(page.records) <= 7
        assert all(record.payload == {"rank": record.id} for record in page.records)
        assert all(record.vector is None for record in page.records)
        seen.extend(record.id for record in page.records)
        if page.next_offset is None:
            break
        offset = page.next_offset
    assert seen == [point.id for point in batch]
    assert pages == 6  # 40 points, 7 a page: the sixth page is the last and says so


async def test_scroll_filters_and_starts_at_any_offset(core: RetrievalCore, tenant: str) -> None:
    batch = await loaded(core, tenant)
    doc1 = Filter(must=(FieldCondition("doc", MatchValue("doc-1")),))
    page = await core.scroll(tenant, "docs", ScrollQuery(limit=3, filter=doc1))
    assert [r.id for r in page.records] == [1, 5, 9]
    assert page.next_offset == 13
    # The offset need not be stored, nor match the filter: the page starts after it.
    page = await core.scroll(tenant, "docs", ScrollQuery(limit=100, filter=doc1, offset=10))
    assert [r.id for r in page.records] == [13, 17, 21, 25, 29, 33, 37]
    assert page.next_offset is None
    page = await core.scroll(
        tenant, "docs", ScrollQuery(limit=1, offset=3, with_payload=False, with_vectors=True)
    )
    assert page.records[0].payload is None
    assert page.records[0].vector == pytest.approx(batch[3].vector, abs=1e-5)
    assert page.next_offset == 4
    # A point written behind the offset is not seen by the next page; one ahead of it is.
    vector = batch[0].vector
    await core.upsert(
        tenant, "docs", [Point(2, vector, {"doc": "doc-1"}), Point(41, vector, {"doc": "doc-1"})]
    )
    rest = await core.scroll(tenant, "docs", ScrollQuery(limit=100, filter=doc1, offset=13))
    assert [r.id for r in rest.records] == [13, 17, 21, 25, 29, 33, 37, 41]
    empty = await core.scroll(tenant, "docs", ScrollQuery(offset=10**6))
    assert (empty.records, empty.next_offset) == ([], None)


async def test_scroll_orders_integer_ids_before_uuids(core: RetrievalCore, tenant: str) -> None:
    await core.create_collection(tenant, "docs", SPEC)
    vector = tuple(float(x) for x in unit_vectors(1)[0])
    keys = sorted(str(uuid.uuid5(uuid.NAMESPACE_URL, f"doc-{i}")) for i in range(5))
    await core.upsert(
        tenant, "docs", [Point(key.upper(), vector) for key in reversed(keys)] + [Point(7, vector)]
    )
    first = await core.scroll(tenant, "docs", ScrollQuery(limit=3))
    assert [r.id for r in first.records] == [7, *keys[:2]]
    assert first.next_offset == keys[2]
    assert first.next_offset is not None
    rest = await core.scroll(
        tenant,
        "docs",
        ScrollQuery(limit=3, offset=first.next_offset.upper()),  # type: ignore[union-attr]
    )
    assert [r.id for r in rest.records] == keys[2:]
    assert rest.next_offset is None


async def test_scroll_bad_input_names_the_field(core: RetrievalCore, tenant: str) -> None:
    await loaded(core, tenant)
    cases = [
        (ScrollQuery(limit=0), "limit", "0 is outside [1, 1000]"),
        (ScrollQuery(limit=1001), "limit", "1001 is outside [1, 1000]"),
        (ScrollQuery(offset="doc-1"), "offset", None),
        (ScrollQuery(offset=-1), "offset", "integer id -1 is outside [0, 2^64-1]"),
        (ScrollQuery(with_payload=("a[",)), "with_payload.include[0]", None),
        (
            ScrollQuery(filter=Filter(must=(FieldCondition("a..b", MatchValue(1)),))),
            "filter.must[0].key",
            None,
        ),
        (
            ScrollQuery(filter=Filter(should=(FieldCondition("rank", range=Range()),))),
            "filter.should[0].range",
            "range on 'rank' has no bound",
        ),
    ]
    for query, field, reason in cases:
        with pytest.raises(InvalidArgument) as caught:
            await core.scroll(tenant, "docs", query)
        assert caught.value.field == field
        if reason is not None:
            assert caught.value.reason == reason
    with pytest.raises(NotFound):
        await core.scroll(tenant, "nothing-here", ScrollQuery())


# ---------------------------------------------------------------------------- hostile input

# Paths a fuzz sent that Qdrant cannot read; each once reached the engine and came back as
# UNAVAILABLE "embedded vector store error: invalid JSON path".
UNREADABLE_PATHS = ["a[", "a..b", "$", ".", "a[-1]", "a\x00", "\N{GRINNING FACE}"]


async def test_unreadable_payload_paths_are_invalid_argument_naming_the_field(
    core: RetrievalCore, tenant: str
) -> None:
    batch = await loaded(core, tenant)
    vector = batch[0].vector

    def condition(path: str) -> Filter:
        return Filter(must=(FieldCondition(path, MatchValue("x")),))

    def calls(path: str) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
        return [
            (
                "query.filter.must[0].key",
                lambda: core.search(tenant, "docs", SearchQuery(vector, filter=condition(path))),
            ),
            (
                "queries[1].filter.must[0].key",
                lambda: core.search_batch(
                    tenant,
                    "docs",
                    [SearchQuery(vector), SearchQuery(vector, filter=condition(path))],
                ),
            ),
            ("filter.must[0].key", lambda: core.count(tenant, "docs", condition(path))),
            ("filter.must[0].key", lambda: core.delete_by_filter(tenant, "docs", condition(path))),
            (
                "query.with_payload.include[1]",
                lambda: core.search(
                    tenant, "docs", SearchQuery(vector, with_payload=("doc", path))
                ),
            ),
            (
                "with_payload.include[0]",
                lambda: core.retrieve(tenant, "docs", [1], with_payload=(path,)),
            ),
            (
                "config.payload_indexes[1].field",
                lambda: core.create_collection(
                    tenant,
                    "other",
                    CollectionSpec(
                        dimension=DIMENSION,
                        payload_indexes={
                            "doc": PayloadFieldType.KEYWORD,
                            path: PayloadFieldType.KEYWORD,
                        },
                    ),
                ),
            ),
        ]

    for path in UNREADABLE_PATHS:
        for field, call in calls(path):
            with pytest.raises(InvalidArgument) as caught:
                await call()
            assert caught.value.field == field
            assert caught.value.reason.startswith(f"{path!r} is not a payload path: ")
    with pytest.raises(InvalidArgument) as caught:
        await core.count(tenant, "docs", condition("a..b"))
    assert caught.value.message == (
        "filter.must[0].key: 'a..b' is not a payload path: expected a key at character 3, "
        "found '.' (a key is letters, digits, '_' and '-', or any text in double quotes)"
    )
    assert await core.list_collections(tenant) == ["docs"]
    assert await core.count(tenant, "docs") == len(batch)


async def test_payload_paths_qdrant_reads_work(core: RetrievalCore, tenant: str) -> None:
    spec = CollectionSpec(
        dimension=DIMENSION,
        payload_indexes={"meta.lang": PayloadFieldType.KEYWORD, '"a b"': PayloadFieldType.INTEGER},
    )
    await core.create_collection(tenant, "docs", spec)
    vectors = unit_vectors(3)
    await core.upsert(
        tenant,
        "docs",
        [
            Point(
                index,
                tuple(float(x) for x in vectors[index]),
                {
                    "título": f"t{index}",
                    "a b": index,
                    "meta": {"lang": "fr" if index else "en", "tags": ["x", f"y{index}"]},
                },
            )
            for index in range(3)
        ],
    )

    async def count(key: str, condition: MatchValue | Range) -> int:
        if isinstance(condition, Range):
            return await core.count(
                tenant, "docs", Filter(must=(FieldCondition(key, range=condition),))
            )
        return await core.count(tenant, "docs", Filter(must=(FieldCondition(key, condition),)))

    assert await count("título", MatchValue("t1")) == 1
    assert await count('"a b"', Range(gte=1)) == 2
    assert await count("meta.lang", MatchValue("fr")) == 2
    assert await count("meta.tags[]", MatchValue("y2")) == 1
    assert await count("meta.tags", MatchValue("x")) == 3
    [record] = await core.retrieve(tenant, "docs", [2], with_payload=("meta.lang", "título"))
    assert record.payload == {"meta": {"lang": "fr"}, "título": "t2"}


async def test_non_finite_payload_numbers_name_the_point_and_key(
    core: RetrievalCore, tenant: str
) -> None:
    await core.create_collection(tenant, "docs", SPEC)
    vector = tuple(float(x) for x in unit_vectors(1)[0])
    cases = [
        ({"price": math.nan}, "points[1].payload.price", "'price' is NaN"),
        (
            {"meta": {"scores": [1.0, math.inf]}},
            "points[1].payload.meta.scores[1]",
            "'meta.scores[1]' is Infinity",
        ),
        ({"a b": -math.inf}, 'points[1].payload["a b"]', "'[\"a b\"]' is -Infinity"),
    ]
    for payload, field, what in cases:
        with pytest.raises(InvalidArgument) as caught:
            await core.upsert(tenant, "docs", [Point(6, vector), Point(7, vector, payload)])
        assert (caught.value.field, caught.value.reason) == (
            field,
            f"point 7: payload key {what}; payload numbers must be finite",
        )
    assert await core.count(tenant, "docs") == 0


async def test_duplicate_ids_in_a_batch_count_once_and_the_last_wins(
    core: RetrievalCore, tenant: str
) -> None:
    await core.create_collection(tenant, "docs", SPEC)
    first, other, last = (tuple(float(x) for x in v) for v in unit_vectors(3))
    key = uuid.uuid5(uuid.NAMESPACE_URL, "doc-1#0")
    written = await core.upsert(
        tenant,
        "docs",
        [
            Point(1, first, {"doc": "first"}),
            Point(str(key), other, {"doc": "uuid"}),
            Point(1, last, {"doc": "last"}),
            Point(str(key).upper(), other, {"doc": "uuid again"}),
        ],
    )
    assert written == 2
    assert await core.count(tenant, "docs") == 2
    records = await core.retrieve(tenant, "docs", [1, str(key)], with_vectors=True)
    assert [record.payload for record in records] == [{"doc": "last"}, {"doc": "uuid again"}]
    assert records[0].vector == pytest.approx(last, abs=1e-5)


# ---------------------------------------------------------------------------- tenants


async def test_tenants_never_see_each_other(core: RetrievalCore, tenant: str) -> None:
    other = tenant + "-b"
    batch = await loaded(core, tenant)
    assert await core.list_collections(other) == []
    with pytest.raises(NotFound, match="collection 'docs' does not exist"):
        await core.search(other, "docs", SearchQuery(batch[0].vector))
    with pytest.raises(NotFound):
        await core.delete_collection(other, "docs")
    # The same name in another tenant is another collection.
    await core.create_collection(other, "docs", CollectionSpec(dimension=DIMENSION))
    assert await core.count(other, "docs") == 0
    assert await core.count(tenant, "docs") == 40
    await core.delete_collection(other, "docs")
    assert await core.count(tenant, "docs") == 40
    with pytest.raises(InvalidArgument) as caught:
        await core.list_collections("a.b")
    assert caught.value.field == "tenant"


# ---------------------------------------------------------------------------- snapshots


async def test_snapshot_delete_restore_gives_same_results(core: RetrievalCore, tenant: str) -> None:
    if core.backend == "server" and not os.environ.get("QDRANT_URL"):
        await loaded(core, tenant)
        with pytest.raises(FailedPrecondition):
            await core.create_snapshot(tenant, "docs")
        pytest.skip("qdrant-client's local mode has no snapshots; set QDRANT_URL to run this")
    batch = await loaded(core, tenant)
    queries = [SearchQuery(batch[i].vector, limit=5) for i in (0, 13, 27)]
    before = await core.search_batch(tenant, "docs", queries)
    snapshot = await core.create_snapshot(tenant, "docs")
    assert snapshot.collection == "docs"
    assert [s.name for s in await core.list_snapshots(tenant, "docs")] == [snapshot.name]
    # Writes after the snapshot are undone by the restore.
    await core.upsert(tenant, "docs", [Point(1000, batch[0].vector, {"doc": "late"})])
    await core.delete_collection(tenant, "docs")
    info = await core.restore_snapshot(tenant, "docs", snapshot.name)
    assert (info.name, info.points_count, info.spec) == ("docs", 40, SPEC)
    assert await core.search_batch(tenant, "docs", queries) == before
    with pytest.raises(NotFound):
        await core.restore_snapshot(tenant, "docs", "snap-0-000000")


async def test_delete_snapshot(core: RetrievalCore, tenant: str) -> None:
    await loaded(core, tenant)
    if core.backend == "server" and not os.environ.get("QDRANT_URL"):
        with pytest.raises(FailedPrecondition):
            await core.delete_snapshot(tenant, "docs", "any")
        pytest.skip("qdrant-client's local mode has no snapshots; set QDRANT_URL to run this")
    kept = await core.create_snapshot(tenant, "docs")
    doomed = await core.create_snapshot(tenant, "docs")
    await core.delete_snapshot(tenant, "docs", doomed.name)
    assert [s.name for s in await core.list_snapshots(tenant, "docs")] == [kept.name]
    with pytest.raises(NotFound) as caught:
        await core.delete_snapshot(tenant, "docs", doomed.name)
    assert caught.value.message == (f"snapshot {doomed.name!r} of collection 'docs' does not exist")
    with pytest.raises(InvalidArgument) as invalid:
        await core.delete_snapshot(tenant, "docs", "")
    assert (invalid.value.field, invalid.value.reason) == ("snapshot", "is empty")
    # Another tenant's collection of the same name has no such snapshot.
    with pytest.raises(NotFound):
        await core.delete_snapshot(tenant + "-b", "docs", kept.name)
    # Snapshots outlive their collection, and can still be deleted then.
    await core.delete_collection(tenant, "docs")
    await core.delete_snapshot(tenant, "docs", kept.name)
    assert await core.list_snapshots(tenant, "docs") == []
