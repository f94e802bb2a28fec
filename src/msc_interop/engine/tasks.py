"""Where the independent steps of one command run: in this process one after another (`Here`), or as tasks on
a Dask cluster (`OnDask`), with one interface, so that a command's code is the same for both engines and its
output cannot differ by engine.

`map(fn, args)`: every task at once, the results in the order given. `ordered(fn, args)`: results one at a time
in the order given, as the caller takes them; `Here` computes the next task's arguments (a generator) only after
the caller has taken the result before it, so a task may be given what the ones before it decided; `OnDask`
submits every task first (their arguments cannot wait for results). Tasks run with this process's site lab map
(mappings.site_map) installed, as the command's own reads do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from msc_interop import mappings
from msc_interop.engine.cluster import Cluster, completed

Progress = Callable[[int, int], None]  # (tasks done, tasks submitted so far)


class Here:
    """Tasks run in this process, in order, each when its result is asked for."""

    distributed = False

    def __init__(self) -> None:
        self.times: dict[str, float] = {}  # wall seconds per step of the command (its own to fill)

    def map(self, fn: Callable[..., Any], args: Iterable[tuple]) -> list[Any]:
        return [fn(*a) for a in args]

    def ordered(self, fn: Callable[..., Any], args: Iterable[tuple]) -> Iterator[Any]:
        for a in args:
            yield fn(*a)

    def one(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def threads(self) -> int:
        return 1


def _installed(site_map: tuple, fn: Callable[..., Any], *args: Any) -> Any:
    """On a worker: fn(*args) with the driver's site lab map installed."""
    with mappings.lab_map_installed(site_map):
        return fn(*args)


class OnDask:
    """Tasks on the workers of `cluster` (engine/cluster.py); `progress` hears (done, submitted) as they end."""

    distributed = True

    def __init__(self, cluster: Cluster, progress: Progress | None = None):
        self.cluster, self.progress = cluster, progress
        self.site_map = mappings.site_map()
        self.done = self.submitted = 0
        self.log: list[str] = []  # what a command did again or otherwise than planned (tests and benchmarks read it)
        self.times: dict[str, float] = {}  # wall seconds per step of the command (its own to fill)

    def threads(self) -> int:
        return self.cluster.threads()

    def _submit(self, fn: Callable[..., Any], args: Iterable[tuple]) -> dict[Any, int]:
        client = self.cluster.client()
        futures = {client.submit(_installed, self.site_map, fn, *a, pure=False): k for k, a in enumerate(args)}
        self.submitted += len(futures)
        self._tell()
        return futures

    def _tell(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.submitted)

    def map(self, fn: Callable[..., Any], args: Iterable[tuple]) -> list[Any]:
        return list(self.ordered(fn, args))

    def ordered(self, fn: Callable[..., Any], args: Iterable[tuple]) -> Iterator[Any]:
        futures = self._submit(fn, list(args))
        got: dict[int, Any] = {}
        at = 0
        for future, result in completed(self.cluster.client(), futures):
            got[futures[future]] = result
            future.release()  # the result is here now: the worker need not hold it
            self.done += 1
            self._tell()
            while at in got:
                yield got.pop(at)
                at += 1

    def one(self, fn: Callable[..., Any], *args: Any) -> Any:
        return next(iter(self.ordered(fn, [args])))
