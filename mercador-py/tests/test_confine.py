"""The catalog driver's filtering and its source of vregions, without
Keystone (the driver itself is tested on Keystone B in
``test_catalog_plugin.py``)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from mercador.keystone.confine import Confinement, confine, index_vregions, is_marked
from mercador.keystone.source import VRegionSource

CATALOG: list[dict[str, Any]] = [
    {
        "id": "k",
        "type": "identity",
        "name": "keystone",
        "endpoints": [
            {"id": "k1", "interface": "public", "region_id": "RegionTwo", "region": "RegionTwo", "url": "http://b/v3"},
            {"id": "k2", "interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "http://o/v3"},
        ],
    },
    {
        "id": "g",
        "type": "image",
        "name": "glance",
        "endpoints": [{"id": "g1", "interface": "public", "region_id": "RegionTwo", "region": "RegionTwo", "url": "http://g"}],
    },
    {
        "id": "n",
        "type": "compute",
        "name": "nova",
        "endpoints": [{"id": "n1", "interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "http://n"}],
    },
    {"id": "e", "type": "volumev3", "name": "empty", "endpoints": []},
]


def records() -> list[dict[str, Any]]:
    return [
        {"name": "lisbon", "domain_id": "d1", "region": "RegionTwo", "service_types": ["identity", "compute"],
         "state": "published"},
        {"name": "porto", "domain_id": "d2", "region": "RegionTwo", "service_types": ["image"], "state": "withdrawn"},
        {"name": "draft", "domain_id": None, "region": "RegionTwo", "service_types": ["image"], "state": "draft"},
    ]


def test_index_keeps_vregions_with_a_domain() -> None:
    index = index_vregions(records())
    assert set(index) == {"d1", "d2"}
    assert index["d1"] == Confinement("lisbon", "d1", "RegionTwo", frozenset({"identity", "compute"}))
    assert index["d2"].vregion == "porto"  # withdrawn: its subscriptions run on, still confined


def test_confine_keeps_the_vregion_types_in_its_region_only() -> None:
    index = index_vregions(records())
    lisbon = confine(CATALOG, index["d1"])
    # compute has no endpoint in RegionTwo: dropped; identity keeps its RegionTwo endpoint only.
    assert [(s["type"], [e["id"] for e in s["endpoints"]]) for s in lisbon] == [("identity", ["k1"])]
    porto = confine(CATALOG, index["d2"])
    assert [(s["type"], [e["id"] for e in s["endpoints"]]) for s in porto] == [("image", ["g1"])]
    assert CATALOG[0]["endpoints"][1]["id"] == "k2"  # the input is not changed


def test_confine_with_no_matching_type_is_empty() -> None:
    assert confine(CATALOG, Confinement("x", "d", "RegionTwo", frozenset({"dns"}))) == []


def test_domain_mark() -> None:
    assert is_marked("Mercador vregion lisbon")
    assert not is_marked("")
    assert not is_marked(None)
    assert not is_marked("Mercador: federated (K2K) users of partner a")  # the partners' users' domains


class FlakyStore:
    """A loader whose store can be made unreachable."""

    def __init__(self) -> None:
        self.records = records()
        self.down = False
        self.reads = 0

    def load(self) -> list[dict[str, Any]]:
        self.reads += 1
        if self.down:
            raise RuntimeError("cannot open postgres://mercador:***@127.0.0.1/mercador_b: connection refused")
        return self.records


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_source_refreshes_then_fails_closed_then_recovers(caplog: Any) -> None:
    store = FlakyStore()
    source = VRegionSource(lambda: store.load, refresh_interval=0.1, max_staleness=0.5, startup_wait=5.0,
                           log=logging.getLogger("test-source"))
    try:
        with caplog.at_level(logging.INFO, logger="test-source"):
            first = source.snapshot()  # waits for the first read
            assert first.current and set(first.index) == {"d1", "d2"}
            # A change shows within the interval.
            store.records = records()[:1]
            wait_for(lambda: set(source.snapshot().index) == {"d1"})
            # The store goes away: the last result holds for max_staleness, then not current.
            store.down = True
            wait_for(lambda: not source.snapshot().current)
            snap = source.snapshot()
            assert set(snap.index) == {"d1"} and {"d1", "d2"} <= snap.known_domains  # known, for fail closed
            assert "RuntimeError" in snap.reason and "***" in snap.reason
            errors = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(errors) == 1, [r.getMessage() for r in errors]  # said once, not at every read
            store.down = False
            wait_for(lambda: source.snapshot().current)
            assert any("readable again" in r.getMessage() for r in caplog.records)
    finally:
        source.stop()


def test_source_without_store_is_never_current() -> None:
    def no_store() -> Any:
        raise RuntimeError("[mercador] store_url is not set in keystone.conf")

    source = VRegionSource(no_store, refresh_interval=0.1, max_staleness=0.5, startup_wait=2.0,
                           log=logging.getLogger("test-source"))
    try:
        snap = source.snapshot()
        assert not snap.current and snap.index == {} and "store_url is not set" in snap.reason
    finally:
        source.stop()


def test_snapshot_never_waits_for_a_slow_store_after_the_first_read() -> None:
    gate = threading.Event()
    calls = {"n": 0}

    def load() -> list[dict[str, Any]]:
        calls["n"] += 1
        if calls["n"] > 1:
            gate.wait(5)  # a store that hangs
        return records()

    source = VRegionSource(lambda: load, refresh_interval=0.05, max_staleness=10.0, startup_wait=5.0,
                           log=logging.getLogger("test-source"))
    try:
        assert source.snapshot().current
        wait_for(lambda: calls["n"] > 1)
        started = time.monotonic()
        for _ in range(100):
            assert source.snapshot().current
        assert time.monotonic() - started < 1.0  # served from memory while the read hangs
    finally:
        gate.set()
        source.stop()
