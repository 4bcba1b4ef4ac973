"""How the orchestrator lays its data out in retrieval: payload keys, point ids, names.

Every chunk is one point whose payload holds the keys below; the document's own metadata
lives under ``metadata`` so that it can never collide with them. Filters written by
clients name metadata keys (``lang``), which become payload paths (``metadata.lang``)
through :func:`metadata_path` — the query side uses the same translation.

Point ids are UUIDs derived from (document id, content hash, chunk index): writing the
same document again writes the same ids (an upsert, never a duplicate), and a changed
document's chunks get new ids, so they are written beside the old ones before the old
ones are deleted.

Each stored document also has a *manifest*: one point in the tenant's
:data:`DOCUMENTS_COLLECTION` whose id is derived from (collection, document id) alone, so it
stays put while the document's versions come and go. It names the version that is
complete (written only after all of that version's chunks are durable), and it is what
ListDocuments pages through (retrieval's Scroll, in point-id order) and what a
collection's document count counts.

A tenant's collection → model bindings live in one extra retrieval collection per tenant,
:data:`REGISTRY_COLLECTION`, one point per collection (a name starting with '_' is one
that clients cannot create through the orchestrator).
"""

from __future__ import annotations

import uuid

DOCUMENT_ID = "document_id"
CONTENT_HASH = "content_hash"
CHUNK_INDEX = "chunk_index"
# Chunks the document's version has: a stored version is complete when this many of its
# chunks are found (a crash mid-write leaves fewer).
CHUNK_COUNT = "chunk_count"
TEXT = "text"
START = "start"
END = "end"
PAGE = "page"
HEADING_PATH = "heading_path"
MEDIA_TYPE = "media_type"
# Seconds since the epoch when this version was stored.
INGESTED_AT = "ingested_at"
METADATA = "metadata"

REGISTRY_COLLECTION = "_collections"
DOCUMENTS_COLLECTION = "_documents"
# The manifest's payload key naming its collection (the other keys are the chunks' own).
COLLECTION = "collection"
# The registry's points carry one dimension: retrieval needs a vector, nothing searches it.
REGISTRY_VECTOR = (1.0,)

_CHUNKS = uuid.UUID("6f7c1c52-2d0b-4c8e-9a55-3f4b7a1d9e01")
_COLLECTIONS = uuid.UUID("0c9e5b7e-8f43-4d6a-b2f1-5d8e6a4c3b12")
_MANIFESTS = uuid.UUID("3a1d7f64-52c8-4b0e-8e27-9c6b1f0d4a73")


def metadata_path(key: str) -> str:
    """The payload path of a document metadata key."""
    return f"{METADATA}.{key}"


def chunk_id(document_id: str, content_hash: str, index: int) -> str:
    return str(uuid.uuid5(_CHUNKS, f"{document_id}\x00{content_hash}\x00{index}"))


def registry_id(collection: str) -> str:
    return str(uuid.uuid5(_COLLECTIONS, collection))


def manifest_id(collection: str, document_id: str) -> str:
    """The id of a document's manifest point: the same for every version of the document."""
    return str(uuid.uuid5(_MANIFESTS, f"{collection}\x00{document_id}"))
