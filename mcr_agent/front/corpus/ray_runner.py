"""Index videos as Ray tasks, one per video, on a running cluster or a local Ray runtime.

Ray is an optional extra (``pip install 'mcr-agent[ray]'``), imported only here and only
when a run asks for it. Ray does the scheduling (each task declares its CPUs and memory),
moves the build options to the workers, and runs a task again when its worker process dies.
The memories are written by the tasks into the cache folder, which on a cluster must be a
shared file system mounted at the same path on every node.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from ...errors import ConfigError, DependencyError
from .jobs import MEMORY_PER_WORKER, BuildOptions, IndexJob, Outcome, index_video

__all__ = ["RayRunner", "ray_address"]

logger = logging.getLogger(__name__)

RAY_ADDRESS_ENV = "MCR_RAY_ADDRESS"


def ray_address(flag: str | None) -> str | None:
    """The Ray address a run uses: the ``--ray`` value, else ``$MCR_RAY_ADDRESS``, else None
    (no Ray). A bare ``--ray`` means ``$MCR_RAY_ADDRESS``, else ``auto``.

    Addresses: ``auto`` (the cluster this machine belongs to), ``local`` (start one here),
    ``HOST:PORT`` or ``ray://HOST:PORT``.

    Raises:
        ConfigError: The value is not an address (a video path swallowed by ``--ray``).
    """
    value = flag if flag not in (None, "") else os.environ.get(RAY_ADDRESS_ENV) or None
    if flag == "" and value is None:
        value = "auto"
    if value is not None and value not in ("auto", "local") and ":" not in value:
        raise ConfigError(
            f"--ray got {value!r}, which is not auto, local or HOST:PORT: write --ray=ADDRESS, "
            "or put --ray after the videos"
        )
    return value


class RayRunner:
    """Each video a Ray task; the driver yields outcomes as tasks finish.

    Args:
        options: How every video is built.
        address: ``auto``, ``local``, ``HOST:PORT`` or ``ray://HOST:PORT``. In a process
            already connected to Ray, that runtime is used.
        cpus: CPUs each task declares (its libraries use that many threads).
        memory: Bytes of memory each task declares.
        retries: Times Ray runs a task again when its worker process dies.
    """

    def __init__(
        self,
        options: BuildOptions,
        *,
        address: str,
        cpus: int = 1,
        memory: int = MEMORY_PER_WORKER,
        retries: int = 3,
    ) -> None:
        self.options = options
        self.address = address
        self.cpus = cpus
        self.memory = memory
        self.retries = retries

    def describe(self) -> str:
        """Where the tasks run, for the first line of the run."""
        return f"Ray at {self.address} ({self.cpus} CPU per video)"

    def run(self, jobs: Sequence[IndexJob]) -> Iterator[Outcome]:
        ray, started = connect(self.address)
        task = ray.remote(index_video).options(
            num_cpus=self.cpus, memory=self.memory, max_retries=self.retries,
            retry_exceptions=False,  # a bad video fails the same way again: only deaths
        )  # fmt: skip
        options = ray.put(self.options)
        refs = {task.remote(job, options, self.cpus): job for job in jobs}
        try:
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1)
                job = refs.pop(ready[0])
                try:
                    yield ray.get(ready[0])
                except ray.exceptions.RayError as exc:
                    yield Outcome.failure(job.video, _ray_error(exc, self.retries), _kind(exc))
        finally:
            for ref in refs:  # interrupted: nothing is left running on the cluster
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()


def connect(address: str) -> tuple[ModuleType, bool]:
    """Import Ray and connect; returns the module and whether this call started Ray.

    Raises:
        DependencyError: Ray is not installed.
        ConfigError: No cluster answers at the address.
    """
    if address == "local":
        # A local runtime of ours listens on loopback only (Ray's own switch for
        # single-machine hosts) and reports no usage statistics; both can be overridden.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError as exc:
        raise DependencyError("--ray needs Ray: pip install 'mcr-agent[ray]'") from exc
    if ray.is_initialized():
        return ray, False
    kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address == "local":
        kwargs["include_dashboard"] = False
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"no Ray cluster answers at {address} ({' '.join(str(exc).split())[:200]}): "
            "start one with `ray start --head`, or use --ray local"
        ) from exc
    return ray, True


def _kind(exc: Exception) -> str:
    return type(exc).__name__


def _ray_error(exc: Exception, retries: int) -> str:
    """One line for a task Ray gave up on (its worker died on every attempt, or OOM)."""
    name = type(exc).__name__
    if "OutOfMemory" in name:
        return (
            f"Ray stopped the task for lack of memory ({retries + 1} attempts): give the "
            "nodes more memory or run fewer videos per node"
        )
    if "WorkerCrashed" in name or "ActorDied" in name or "NodeDied" in name:
        return (
            f"the Ray worker died under this video on {retries + 1} attempts ({name}): "
            "index it alone with `mcr-agent index VIDEO` to see why"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no message"
    return f"Ray failed the task ({name}: {first[:200]})"
