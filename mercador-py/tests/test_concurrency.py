"""Concurrency: K2K from 8 threads at once, the GIL released during a K2K
call, a forked child making calls."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import alice_auth

import mercador


def test_k2k_from_eight_threads_at_once(story: dict[str, Any], tb: dict[str, str]) -> None:
    barrier = threading.Barrier(8)

    def one(_: int) -> tuple[str, str | None, str]:
        cloud = mercador.Cloud.from_auth(alice_auth(tb))  # each its own login and K2K
        barrier.wait()
        token = cloud.k2k(story["sp"]).token()
        return token.user_id, token.project_id, token.id

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert len({r[0] for r in results}) == 1 and len({r[1] for r in results}) == 1
    assert len({r[2] for r in results}) == 8  # eight separate K2K logins

    shared = mercador.Cloud.from_auth(alice_auth(tb))
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda _: shared.k2k(story["sp"]).token().id, range(8)))
    assert len(set(tokens)) == 1  # one object shared by 8 threads: one login (single flight)


def test_a_python_thread_runs_during_a_k2k_call(story: dict[str, Any], tb: dict[str, str]) -> None:
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    cloud = mercador.Cloud.from_auth(alice_auth(tb))
    thread = threading.Thread(target=spin)
    thread.start()
    try:
        time.sleep(0.05)
        before = ticks
        started = time.monotonic()
        cloud.k2k(story["sp"]).token()  # a fresh login on A and a K2K: hundreds of ms on the network
        elapsed = time.monotonic() - started
        during = ticks - before
    finally:
        stop.set()
        thread.join()
    assert elapsed > 0.05
    # With the GIL held for the whole call the spinning thread would get nothing
    # (switch interval 5 ms would not even apply: the call never yields).
    assert during > 10_000, f"the other thread ran {during} loops in {elapsed:.3f} s"


def test_a_forked_child_makes_calls(story: dict[str, Any], tb: dict[str, str]) -> None:
    cloud = mercador.Cloud.from_auth(alice_auth(tb))
    parent_token = cloud.k2k(story["sp"]).token()  # runtime and sessions made in the parent
    assert mercador._native.runtime_pid() == os.getpid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: objects made before the fork, and new ones
        code = 1
        try:
            os.close(read)
            child_token = cloud.k2k(story["sp"]).token()
            fresh = mercador.Cloud.from_auth(alice_auth(tb)).k2k(story["sp"]).token()
            ok = (
                child_token.user_id == parent_token.user_id
                and fresh.project_id == parent_token.project_id
                and mercador._native.runtime_pid() == os.getpid()
            )
            os.write(write, b"ok" if ok else b"mismatch")
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            os.write(write, f"error {type(e).__name__}: {e}".encode()[:400])
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert answer == "ok" and os.waitstatus_to_exitcode(status) == 0, answer
    assert cloud.k2k(story["sp"]).token().id == parent_token.id  # the parent's cache is intact
