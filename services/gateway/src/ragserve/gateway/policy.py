"""What each public RPC needs: a permission, its rate-limit charges, its deadlines.

One table, so the auth matrix, the docs and the servicer cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragserve.errors import InvalidArgument
from ragserve.gateway.keys import Permission


@dataclass(frozen=True, slots=True)
class RpcPolicy:
    permission: Permission
    # Seconds: the deadline of a call that has none, and the longest one accepted.
    default_deadline_s: float
    max_deadline_s: float


_READ_FAST = RpcPolicy(Permission.READ, 10.0, 60.0)
_READ = RpcPolicy(Permission.READ, 30.0, 120.0)
_WRITE = RpcPolicy(Permission.WRITE, 30.0, 120.0)
_ADMIN = RpcPolicy(Permission.ADMIN, 5.0, 30.0)

POLICIES: dict[str, RpcPolicy] = {
    "CreateCollection": _WRITE,
    "GetCollection": _READ_FAST,
    "ListCollections": _READ_FAST,
    "DeleteCollection": _WRITE,
    "Ingest": RpcPolicy(Permission.WRITE, 3600.0, 86_400.0),
    "DeleteDocument": _WRITE,
    "ListDocuments": _READ_FAST,
    "Query": _READ,
    "Search": _READ_FAST,
    "Embed": _READ,
    "CreateApiKey": _ADMIN,
    "ListApiKeys": _ADMIN,
    "RevokeApiKey": _ADMIN,
}

# The "field" an over-long deadline is reported under: gRPC carries it in this header.
DEADLINE_FIELD = "grpc-timeout"


def deadline_for(rpc: str, time_remaining: float | None) -> float:
    """Seconds the call may run: its own deadline, or the RPC's default.

    A deadline longer than the RPC's maximum is refused (a client asking for more
    than the gateway will give should learn it now, not at the cut-off)."""
    policy = POLICIES[rpc]
    if time_remaining is None:
        return policy.default_deadline_s
    # gRPC encodes a deadline on the wire with a few significant digits, rounding it up
    # (86400 s arrives as 86500 s): allow for that.
    if time_remaining > policy.max_deadline_s * 1.01 + 1.0:
        raise InvalidArgument(
            DEADLINE_FIELD,
            f"{round(time_remaining)} s is longer than the maximum of "
            f"{policy.max_deadline_s:.0f} s for {rpc}",
        )
    return time_remaining
