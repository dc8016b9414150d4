"""authentik's advisory lock keys (django-pglock): how a worker's or a task's lock is named.

The console never takes these locks; it looks for them in pg_locks (see the workers queries).
"""

from __future__ import annotations

import hashlib


def advisory_key(name: str) -> int:
    """pglock's key for a lock name: the first 8 bytes of sha256, little-endian, signed."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little", signed=True)


def task_lock_key(queue_name: str, message_id: str) -> int:
    """The lock a consumer holds while it processes a message."""
    return advisory_key(f"authentik.tasks.{queue_name}.lock.{message_id}")


def worker_lock_key(worker_id: str) -> int:
    """The lock a worker process holds for its whole life (its liveness proof)."""
    return advisory_key(f"goauthentik.io/worker/status/{worker_id}")


def pg_locks_ids(key: int) -> tuple[int, int]:
    """How a bigint advisory key appears in pg_locks: (classid, objid), objsubid = 1."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return (unsigned >> 32) & 0xFFFFFFFF, unsigned & 0xFFFFFFFF
