"""What a Python caller learns of an outage (issue 19, docs/outages.md):
``dependency``, ``outage``, ``retry_after`` and ``operation`` on every
``MercadorError``, from real outages:

- the story's subscriber service (the real ``mercador serve subscriber``)
  with a publisher registered where none runs now (nothing listens on
  127.0.0.1:9: what a stopped publisher gives, connection refused): a
  subscribe answers 503 ``publisher_unavailable`` with ``Retry-After``
  and the operation that continues in the background, again when asked
  again; a cancel ends it (the publisher never had it), nothing is left on
  Keystone A;
- a Keystone and a service that nothing answers for, called directly:
  ``outage`` without ``dependency``;
- a ``Store`` whose PostgreSQL (the testbed's) goes out of reach: a TCP
  relay of this test in front of it is closed, then opened again:
  ``database`` unreachable or too slow, then the same ``Store`` reads again.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from typing import Any

import openstack
import pytest
from conftest import alice_auth

import mercador

# Generous: a sanity bound on a loaded machine, not a benchmark.
ANSWER_BOUND = 60.0


def _objects_on_a(alias: str) -> list[str]:
    """Keystone A's service provider and region of a binding's alias."""
    conn = openstack.connect(cloud="testbed-a")
    try:
        found = []
        for kind, path in (("service provider", f"/OS-FEDERATION/service_providers/mercador-{alias}"),
                           ("region", f"/regions/{alias}")):
            if conn.identity.get(path).status_code == 200:
                found.append(f"{kind} {path}")
        return found
    finally:
        conn.close()


def test_subscribe_with_the_publisher_down(story: dict[str, Any]) -> None:
    tb, sub = story["tb"], story["sub"]
    down = f"{story['publisher']}-down"
    alias = f"{story['alias']}d"
    sub.register_publisher(
        down,
        keystone_url=tb["KEYSTONE_B_URL"],
        application_credential_id=story["onboarded"]["application_credential_id"],
        application_credential_secret=story["onboarded"]["application_credential_secret"],
        exchange_url="http://127.0.0.1:9/v1/exchange",
    )
    try:
        start = time.monotonic()
        with pytest.raises(mercador.Unavailable) as e:
            sub.bind(down, story["vregion"], alias=alias)
        took = time.monotonic() - start
        error = e.value
        assert isinstance(error, mercador.MercadorError)
        assert (error.status, error.code) == (503, "publisher_unavailable"), error.message
        assert (error.dependency, error.outage, error.retry_after) == ("publisher", "unreachable", 10)
        op = error.operation
        assert isinstance(op, mercador.InterruptedOperation), repr(op)
        assert (op.name, op.binding, op.state, op.step) == ("subscribe", alias, "provisioning", "remote_subscribe")
        assert f"mercador binding show {alias}" in op.follow
        assert op.subscription is None, "the subscriber's answer names the binding, not a subscription"
        assert op.to_dict() == {
            "name": "subscribe", "binding": alias, "subscription": None, "state": "provisioning",
            "step": "remote_subscribe", "follow": op.follow,
        }
        assert repr(op).startswith("InterruptedOperation(name=\"subscribe\"")
        assert "continues in the background" in error.message
        assert took < ANSWER_BOUND, f"the subscribe answered after {took:.1f} s"
        print(f"subscribe with the publisher down: {took:.2f} s: {error.message}")

        # Asking again is harmless: the same binding, the same answer.
        with pytest.raises(mercador.Unavailable) as again:
            sub.bind(down, story["vregion"], alias=alias)
        assert again.value.operation == op
        assert again.value.dependency == "publisher"
        assert sub.binding(alias).state == "provisioning"
    finally:
        # The publisher never got the subscribe: the cancel needs nothing of
        # it. (A cancel that an outage interrupts is tested on the services,
        # mercador-server/tests/outages.rs; its `operation` reaches Python
        # the same way as the subscribe's.) The subscriber's reconciliation
        # may hold the binding for a moment.
        for attempt in range(10):
            try:
                assert sub.cancel_binding(alias).state == "cancelled"
                break
            except mercador.NotFound:
                break
            except (mercador.Conflict, mercador.Unavailable):
                if attempt == 9:
                    raise
                time.sleep(1)
        sub.remove_publisher(down)
    assert _objects_on_a(alias) == [], "nothing of the binding left on Keystone A"


def test_a_server_called_directly_that_is_down(tb: dict[str, str]) -> None:
    """How it fails is known; which of Mercador's dependencies it is, is not
    (the message names the URL)."""
    with pytest.raises(mercador.Unavailable) as e:
        mercador.Cloud.from_auth(alice_auth(tb, auth_url="http://127.0.0.1:9/v3")).token()
    error = e.value
    assert (error.outage, error.dependency, error.retry_after, error.operation) == ("unreachable", None, None, None)
    admin = mercador.PublisherAdmin(mercador.Cloud.from_config("testbed-b"), url="http://127.0.0.1:9")
    with pytest.raises(mercador.Unavailable) as e:
        admin.vregions()
    error = e.value
    assert (error.outage, error.dependency, error.status) == ("unreachable", None, None)
    assert "127.0.0.1:9" in error.message


def test_errors_that_are_not_outages_say_so(story: dict[str, Any]) -> None:
    with pytest.raises(mercador.NotFound) as e:
        story["sub"].binding("no-such-binding")
    error = e.value
    assert (error.dependency, error.outage, error.retry_after, error.operation) == (None, None, None, None)
    with pytest.raises(mercador.InvalidInput) as invalid:
        mercador.validate_vregion_spec({"name": ""})
    assert (invalid.value.dependency, invalid.value.outage, invalid.value.operation) == (None, None, None)


class _Relay:
    """A TCP relay on 127.0.0.1 in front of ``upstream``: ``close()`` ends
    every connection and stops listening (the database out of reach),
    ``open()`` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self._listener is not None:
            # shutdown wakes the accepting thread (close alone would leave it listening).
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def test_a_stores_database_out_of_reach_then_back(story: dict[str, Any]) -> None:
    url = urllib.parse.urlsplit(story["publisher_database_url"])
    assert url.hostname and url.port, url
    relay = _Relay((url.hostname, url.port))
    try:
        netloc = url.netloc.rsplit(":", 1)[0] + f":{relay.port}"
        relayed = urllib.parse.urlunsplit(url._replace(netloc=netloc))
        with mercador.Store.connect(relayed) as store:
            assert story["vregion"] in [v["name"] for v in store.vregions()]
            relay.close()
            start = time.monotonic()
            with pytest.raises(mercador.Unavailable) as e:
                store.vregions()
            took = time.monotonic() - start
            error = e.value
            assert error.dependency == "database", error.message
            assert error.outage in ("unreachable", "too_slow"), error.outage
            assert error.retry_after == 5 and error.operation is None
            assert "the database is unavailable" in error.message
            password = url.password or "\0"
            assert password not in error.message and password not in repr(error)
            # The pool's acquire timeout (5 s) bounds the wait.
            assert took < 30, f"answered after {took:.1f} s"
            print(f"Store with its database out of reach: {took:.2f} s: {error.outage}")
            relay.open()
            assert story["vregion"] in [v["name"] for v in store.vregions()], "the same Store reads again"
    finally:
        relay.close()
