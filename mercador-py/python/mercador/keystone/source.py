"""The vregions the catalog driver knows: read from the publisher's store by
a background thread of each process, served from memory.

A token's catalog never waits for the store: the thread reads every
``refresh_interval`` seconds and the driver reads the last result. So a
publish, a change or a withdrawal shows in catalogs within
``refresh_interval`` seconds plus one read of the store (with Keystone's
catalog cache off, see docs). The result counts as current for
``max_staleness`` seconds after the last successful read; past that (the
store unreachable), a project of a vregion is served an empty catalog
(fail closed) and everyone else the full catalog.

A forked child (uWSGI, mod_wsgi) starts its own thread and opens its own
store at its first use; the parent's last result serves it meanwhile.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mercador.keystone.confine import Confinement, index_vregions

Loader = Callable[[], Iterable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Snapshot:
    """What the source knows at one moment."""

    #: vregions by domain id, from the last successful read (empty before any).
    index: Mapping[str, Confinement]
    #: the last read succeeded less than ``max_staleness`` seconds ago.
    current: bool
    #: every domain this process has seen as a vregion's (for fail closed).
    known_domains: frozenset[str] = field(default_factory=frozenset)
    #: why it is not current (no secret: store errors are scrubbed by mercador-core).
    reason: str = ""


class VRegionSource:
    """The vregions of one publisher store, refreshed in the background."""

    def __init__(
        self,
        loader_factory: Callable[[], Loader],
        *,
        refresh_interval: float,
        max_staleness: float,
        startup_wait: float,
        log: logging.Logger | Any,
    ) -> None:
        self._loader_factory = loader_factory
        self.refresh_interval = refresh_interval
        self.max_staleness = max_staleness
        self.startup_wait = startup_wait
        self._log = log
        self._lock = threading.Lock()
        self._index: dict[str, Confinement] = {}
        self._known: set[str] = set()
        self._loaded_at: float | None = None
        self._error = "not read yet"
        self._failing = False
        self._pid: int | None = None
        self._first = threading.Event()
        self._stop = threading.Event()
        self._keep: list[Any] = []  # loaders of a parent process: never dropped in a child
        # A lock held by a thread of the parent at fork time stays held in the child: renew it.
        os.register_at_fork(after_in_child=self._after_fork)
        # A worker that exits stops its thread first (it sleeps on this event between reads).
        atexit.register(self.stop)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    # -- the thread ---------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._first = threading.Event()
            self._pid = pid
            thread = threading.Thread(target=self._run, args=(pid,), name="mercador-vregions", daemon=True)
            thread.start()

    def _run(self, pid: int) -> None:
        loader: Loader | None = None
        while not self._stop.is_set() and self._pid == pid:
            started = time.monotonic()
            try:
                if loader is None:
                    loader = self._loader_factory()
                    self._keep.append(loader)
                index = index_vregions(loader())
                with self._lock:
                    self._index = index
                    self._known.update(index)
                    self._loaded_at = time.monotonic()
                    self._error = ""
                if self._failing:
                    self._failing = False
                    self._log.warning("mercador: the publisher's store is readable again (%d vregions)", len(index))
            except Exception as e:  # noqa: BLE001 - any failure: keep the last result, say why once
                with self._lock:
                    self._error = f"{type(e).__name__}: {e}"
                if not self._failing:
                    self._failing = True
                    self._log.error(
                        "mercador: cannot read the publisher's store (%s); vregion tokens get an empty catalog "
                        "once the last read is %.0f s old",
                        self._error,
                        self.max_staleness,
                    )
            self._first.set()
            self._stop.wait(max(0.0, self.refresh_interval - (time.monotonic() - started)))

    def known_domains(self) -> frozenset[str]:
        """Every domain this process has seen as a vregion's."""
        with self._lock:
            return frozenset(self._known)

    def stop(self) -> None:
        """Stops the thread (tests)."""
        self._stop.set()

    # -- what the driver asks ------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The vregions now; waits for the first read of this process at most ``startup_wait`` s."""
        self._ensure_thread()
        if not self._first.is_set():
            self._first.wait(self.startup_wait)
        with self._lock:
            loaded_at, index, known, error = self._loaded_at, self._index, frozenset(self._known), self._error
        if loaded_at is None:
            return Snapshot(index, False, known, f"no successful read of the store yet ({error})")
        age = time.monotonic() - loaded_at
        if age > self.max_staleness:
            return Snapshot(index, False, known, f"last successful read {age:.0f} s ago ({error})")
        return Snapshot(index, True, known)
