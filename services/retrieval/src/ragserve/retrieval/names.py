"""Tenant scoping: the physical name of a collection is derived from (tenant, name).

Invariant: ``physical_name`` is injective and ``split_physical_name`` inverts it. Tenant
and collection names are restricted to ``[A-Za-z0-9_-]{1,64}``, so the separator ``.``
can appear in neither and no two (tenant, name) pairs map to the same physical name.
(Names differing only in case are distinct: the embedded store needs a case-sensitive
file system, which Linux has.) A tenant therefore never reaches another
tenant's collection: every operation resolves names through this module.
"""

from __future__ import annotations

import re

from ragserve.errors import InvalidArgument

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
SEPARATOR = "."


def check_name(field: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise InvalidArgument(
            field,
            f"{value!r} is not a valid name: use 1 to 64 letters, digits, '-' or '_'",
        )
    return value


def physical_name(tenant: str, collection: str) -> str:
    check_name("tenant", tenant)
    check_name("collection", collection)
    return f"{tenant}{SEPARATOR}{collection}"


def split_physical_name(physical: str) -> tuple[str, str] | None:
    """(tenant, collection) of a physical name, or None for a name this service did not make."""
    tenant, separator, collection = physical.partition(SEPARATOR)
    if not separator or not _NAME.fullmatch(tenant) or not _NAME.fullmatch(collection):
        return None
    return tenant, collection


def collection_of(physical: str) -> str:
    """The name a tenant knows a physical name by (the whole name, for one this service did
    not make): what errors about that collection may show."""
    parts = split_physical_name(physical)
    return parts[1] if parts is not None else physical


def tenant_collections(tenant: str, physical_names: list[str]) -> list[str]:
    """The tenant's own collection names among ``physical_names``, sorted."""
    own = []
    for physical in physical_names:
        parts = split_physical_name(physical)
        if parts is not None and parts[0] == tenant:
            own.append(parts[1])
    return sorted(own)
