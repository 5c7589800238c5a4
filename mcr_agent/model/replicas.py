"""Several model servers behind one client: least outstanding requests first, a failing
replica out until its health check passes again."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelServerError

__all__ = ["Replica", "ReplicaPool"]

logger = logging.getLogger(__name__)


@dataclass
class Replica:
    """One server: its URL, its client, requests in flight, and when it may be retried."""

    url: str
    client: Any
    outstanding: int = 0
    retry_at: float = 0.0  # monotonic time; 0 while healthy
    failures: int = 0
    served: int = field(default=0, compare=False)

    @property
    def up(self) -> bool:
        return self.retry_at == 0.0


class ReplicaPool:
    """Chooses a replica per request.

    Args:
        replicas: The servers, in the order given by the user.
        healthy: Probes a replica that failed (its ``/health``); True lets it back in.
        cooldown: Seconds before a failed replica is probed again, doubled per failure.
        max_cooldown: Longest wait between probes.
    """

    def __init__(
        self,
        replicas: Sequence[Replica],
        healthy: Callable[[Replica], bool],
        *,
        cooldown: float = 1.0,
        max_cooldown: float = 30.0,
    ) -> None:
        self.replicas = list(replicas)
        self._healthy = healthy
        self._cooldown = cooldown
        self._max_cooldown = max_cooldown
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.replicas)

    @contextlib.contextmanager
    def use(self) -> Iterator[Replica]:
        """The healthy replica with the fewest requests in flight, for one request.

        Raises:
            ModelServerError: Every replica is failing and none passed its health check.
        """
        replica = self._acquire()
        try:
            yield replica
        finally:
            with self._lock:
                replica.outstanding -= 1

    def failed(self, replica: Replica, reason: str) -> None:
        """Take a replica out after a connection failure, timeout or 5xx."""
        with self._lock:
            replica.failures += 1
            wait = min(self._max_cooldown, self._cooldown * 2 ** (replica.failures - 1))
            replica.retry_at = time.monotonic() + wait
        logger.warning("model server %s taken out for %.0f s: %s", replica.url, wait, reason)

    def _acquire(self) -> Replica:
        for candidate in self._due():
            if self._healthy(candidate):
                with self._lock:
                    candidate.retry_at, candidate.failures = 0.0, 0
                logger.warning("model server %s is back", candidate.url)
            else:
                self.failed(candidate, "health check failed")
        with self._lock:
            up = [r for r in self.replicas if r.up]
            if not up:
                urls = ", ".join(r.url for r in self.replicas)
                raise ModelServerError(
                    f"no model server answers at any of {urls}: start them or fix MCR_BASE_URL"
                )
            best = min(up, key=lambda r: (r.outstanding, r.served))
            best.outstanding += 1
            best.served += 1
            return best

    def _due(self) -> list[Replica]:
        """Failed replicas whose wait is over (all of them when none is up)."""
        now = time.monotonic()
        with self._lock:
            down = [r for r in self.replicas if not r.up]
            if len(down) == len(self.replicas):
                return down
            return [r for r in down if r.retry_at <= now]
