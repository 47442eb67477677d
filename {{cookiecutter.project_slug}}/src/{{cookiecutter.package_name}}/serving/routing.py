"""Which model answers a request: decided by a hash of its request id, so that a caller's retries
land on the same model in every worker process, and the shares are exact over many requests."""

from __future__ import annotations

import hashlib

STABLE = "stable"  # production, as deploy/production.yaml declares it
CANARY = "canary"  # the rollout's candidate, answering its step's share
SHADOW = "shadow"  # the candidate, scoring a copy of a request it does not answer
FALLBACK = "fallback"  # no verified model could answer
BUCKETS = 10_000  # a share resolves to 0.01 percentage points


def _bucket(request_id: str, purpose: str) -> int:
    """A request id's place in [0, BUCKETS): the same id, the same place, for a purpose; the
    canary's and the shadow's draws are independent of each other."""
    digest = hashlib.sha256(f"{purpose}\0{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def route(request_id: str, canary_percent: int) -> str:
    """STABLE or CANARY: CANARY for `canary_percent` percent of request ids."""
    return CANARY if _bucket(request_id, CANARY) < canary_percent * BUCKETS // 100 else STABLE


def shadowed(request_id: str, share: float) -> bool:
    """Whether the candidate also scores this request (answered by production), for `share` of
    request ids."""
    return _bucket(request_id, SHADOW) < round(share * BUCKETS)
