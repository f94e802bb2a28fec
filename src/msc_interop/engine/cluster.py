"""The Dask cluster of `--engine dask`: a LocalCluster started for one command (and closed after it), or an
existing scheduler (`--scheduler tcp://host:port`) whose workers must read the input paths where this machine
reads them.

dask is imported here, only when the Dask engine runs, so plain commands do not pay its import time (~0.5 s).
A bad address is a clear error within `MSC_INTEROP_DASK_TIMEOUT` seconds (default 10), never a hang.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from msc_interop.errors import MscInteropError

TIMEOUT_ENV = "MSC_INTEROP_DASK_TIMEOUT"


def timeout() -> float:
    """Seconds to wait for the scheduler and its first worker ($MSC_INTEROP_DASK_TIMEOUT, default 10)."""
    text = os.environ.get(TIMEOUT_ENV, "10")
    try:
        value = float(text)
    except ValueError:
        raise MscInteropError(f"${TIMEOUT_ENV}={text!r} is not a number of seconds") from None
    if value <= 0:
        raise MscInteropError(f"${TIMEOUT_ENV}={text!r} must be more than 0 seconds")
    return value


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MscInteropError("--engine dask needs Dask: pip install 'dask[distributed]'") from None
    return distributed


class Cluster:
    """The cluster one command uses: `client()` connects (an existing scheduler at once, in `__enter__`, so
    that a wrong address is said before any work; a LocalCluster only when first needed), `close()` ends
    what was started here."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        if scheduler is not None and workers is not None:
            raise MscInteropError("--workers sets the size of the local cluster; a cluster at --scheduler has "
                                  "its own workers (start them with `dask worker ADDRESS`)")
        if workers is not None and workers < 1:
            raise MscInteropError(f"--workers {workers}: give 1 or more")
        self.scheduler, self.workers = scheduler, workers
        self._client: Any = None
        self._local: Any = None

    def __enter__(self) -> Cluster:
        if self.scheduler is not None:
            self.client()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self) -> Any:
        """The distributed.Client (connected, with at least one worker)."""
        if self._client is None:
            self._client = self._connect() if self.scheduler is not None else self._start()
        return self._client

    def threads(self) -> int:
        """Worker threads in the cluster now (tasks it runs at once)."""
        workers = self.client().scheduler_info()["workers"].values()
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._local is not None:
            self._local.close()
            self._local = None

    def _start(self) -> Any:
        distributed = _import_distributed()
        n = self.workers or os.cpu_count() or 1
        # processes, one thread each: the rules are Python, one core per worker; no dashboard, and the scheduler's
        # HTTP routes on a free port (not 8787, which a cluster of the user's may hold)
        self._local = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR,
                                               scheduler_kwargs={"dashboard_address": ":0"})
        return distributed.Client(self._local, set_as_default=False)

    def _connect(self) -> Any:
        distributed = _import_distributed()
        address, wait = str(self.scheduler), timeout()
        _probe(address, wait)
        try:
            client = distributed.Client(address, timeout=wait, set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:
            raise MscInteropError(f"--scheduler {address}: cannot connect to a Dask scheduler ({exc})") from None
        try:
            client.wait_for_workers(1, timeout=wait)
        except (TimeoutError, OSError):
            client.close()
            raise MscInteropError(f"--scheduler {address}: the scheduler has no worker after {wait:g} s (start "
                                  f"some with `dask worker {address}`)") from None
        return client


def completed(client: Any, futures: dict[Any, int]) -> Any:
    """(future, result) as the workers finish; a file a worker cannot read is a clear error."""
    from distributed import as_completed

    for future in as_completed(list(futures), loop=client.loop):
        try:
            result = future.result()
        except OSError as exc:
            for f in futures:
                f.cancel()
            raise MscInteropError(f"a Dask worker could not read {exc.filename or 'an input file'}: "
                                  f"{exc.strerror or exc} (with --scheduler, every worker must reach the paths "
                                  "this machine gives, the input and from-fhir's output folder, at the same place: a "
                                  "shared file system)") from None
        yield future, result


def _probe(address: str, wait: float) -> None:
    """Something at `address` answers as a Dask scheduler (its `identity`), asked on a connection of our own:
    a distributed.Client that fails to connect leaves a background loop that complains at exit."""
    import asyncio

    from distributed.comm import connect

    async def identity() -> Any:
        comm = await connect(address, timeout=wait)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), wait)
        finally:
            comm.abort()

    try:
        answer = asyncio.run(identity())
    except (MemoryError, EOFError) as exc:  # something answers, with bytes that are not Dask messages
        raise MscInteropError(f"--scheduler {address}: what answers there is not a Dask scheduler "
                              f"({type(exc).__name__})") from None
    except Exception as exc:  # refused, timed out, a bad address
        raise MscInteropError(f"--scheduler {address}: no Dask scheduler answers there ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from None
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise MscInteropError(f"--scheduler {address}: what answers there is not a Dask scheduler")
