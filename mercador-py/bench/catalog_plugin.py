#!/usr/bin/env python3
"""Benchmark: token issue on Keystone B with Mercador's catalog driver
against Keystone's SQL driver alone, in one run (mercador-py/bench/catalog-plugin).

Two Keystones over B's database, side by side, one uwsgi worker each
(`uwsgi --http`, the testbed's venv and WSGI module): one with B's
keystone.conf (`[catalog] driver = mercador`), one with a copy that says
`driver = sql`. A publisher (`mercador serve publisher` on B's store,
mercador_b) publishes a vregion with `identity` only; a local user of B
holds `member` on a project of the vregion's domain (its token goes
through the driver's confining path, as a federated user's does) and
another on a project of Default (outside any vregion). Each round issues
one password token scoped to the project for each (user, driver), in a
shuffled order, on kept-alive connections; figures are medians and p95 in
ms of BENCH_TOKENS rounds (default 200), in two legs of half of them (the
servers started again, in the other order), each after 20 rounds of warm-up.
Then the driver's own cost without HTTP: `get_v3_catalog` of both drivers
called alternately in one process (catalog_inproc.py, BENCH_CALLS calls,
default 2000).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "mercador-py/tests"))

import openstack  # noqa: E402

import mercador  # noqa: E402
from conftest import Service, load_testbed  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keystone(tb: dict[str, str], conf: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    venv = Path(tb["MERCADOR_TESTBED_VENV"])
    state = Path(tb["MERCADOR_TESTBED_STATE"])
    proc = subprocess.Popen(
        [str(venv / "bin/uwsgi"), "--http", f"127.0.0.1:{port}", "--http-keepalive", "--pythonpath",
         str(REPO / "testbed/lib"), "--module", "keystone_wsgi:application", "--master", "--processes", "1",
         "--threads", "1", "--enable-threads", "--die-on-term", "--lazy-apps", "--virtualenv", str(venv),
         "--env", f"OS_KEYSTONE_CONFIG_FILES={conf}", "--env", f"MERCADOR_KEYSTONE_WRITE_LOCK={state}/b/write.lock",
         "--logto", str(log)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/v3")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"a Keystone on port {port} did not start; see {log}")
        time.sleep(0.3)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stops the benchmark's Keystones (their process groups), SIGKILL after 60 s."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    procs.clear()


def token_body(user: dict[str, str]) -> bytes:
    return json.dumps({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"id": user["user_id"], "password": user["password"]}}},
        "scope": {"project": {"id": user["project_id"]}},
    }}).encode()


def issue(conn: http.client.HTTPConnection, body: bytes) -> tuple[float, list[dict[str, object]]]:
    t0 = time.perf_counter()
    conn.request("POST", "/v3/auth/tokens", body=body, headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    elapsed = (time.perf_counter() - t0) * 1000.0
    if answer.status != 201:
        raise RuntimeError(f"token issue answered {answer.status}")
    return elapsed, json.loads(data)["token"]["catalog"]


def make_user(conn: openstack.connection.Connection, name: str, domain_id: str) -> dict[str, str]:
    password = secrets.token_hex(16)
    project = conn.identity.create_project(name=name, domain_id=domain_id)
    user = conn.identity.create_user(name=name, password=password, domain_id=domain_id)
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role("member"))
    return {"user_id": user.id, "project_id": project.id, "password": password}


def main() -> None:
    rounds = int(os.environ.get("BENCH_TOKENS", "200"))
    tb = load_testbed()
    state = Path(tb["MERCADOR_TESTBED_STATE"])
    work = state / "bench-catalog"
    work.mkdir(exist_ok=True)
    conf = state / "b/keystone.conf"
    sql_conf = work / "keystone-sql.conf"
    text = conf.read_text()
    assert "driver = mercador" in text, f"{conf} does not use the mercador catalog driver"
    sql_conf.write_text(text.replace("driver = mercador", "driver = sql").replace(
        "log_file = ", f"log_file = {work}/keystone-sql.log\n# was: "))
    sql_conf.chmod(0o600)
    plugin_conf = work / "keystone-plugin.conf"
    plugin_conf.write_text(text.replace("log_file = ", f"log_file = {work}/keystone-plugin.log\n# was: "))
    plugin_conf.chmod(0o600)

    suffix = secrets.token_hex(3)
    publisher = Service("publisher", tb, work, database_url=tb["MERCADOR_B_PUBLISHER_DATABASE_URL"],
                        key_file=tb["MERCADOR_B_PUBLISHER_KEY_FILE"])
    admin = mercador.PublisherAdmin(mercador.Cloud.from_config("testbed-b"), url=publisher.url)
    conn = openstack.connect(cloud="testbed-b")
    procs: list[subprocess.Popen[bytes]] = []
    made: list[tuple[str, str]] = []
    name = f"bench{suffix}"
    try:
        admin.create_vregion({"name": name, "region": tb["KEYSTONE_B_REGION"], "service_types": ["identity"],
                              "roles": ["member"], "max_subscriptions": 1, "partners": []})
        domain_id = admin.publish_vregion(name)["domain_id"]
        users = {
            "vregion user": make_user(conn, f"bench-in-{suffix}", domain_id),
            "user outside any vregion": make_user(conn, f"bench-out-{suffix}", "default"),
        }
        made = [(u["user_id"], u["project_id"]) for u in users.values()]
        cases = [(who, driver) for who in users for driver in ("sql", "mercador")]
        bodies = {who: token_body(u) for who, u in users.items()}
        samples: dict[tuple[str, str], list[float]] = {c: [] for c in cases}
        legs: list[dict[tuple[str, str], list[float]]] = []
        # Two legs, the servers started in one order then the other: on this shared machine the
        # server started first was measured slower even when both ran the SQL driver.
        for leg, first in enumerate(("mercador", "sql")):
            conns = {}
            ports = {}
            for driver in (first, "sql" if first == "mercador" else "mercador"):
                proc, ports[driver] = keystone(tb, plugin_conf if driver == "mercador" else sql_conf,
                                               work / f"uwsgi-{driver}.log")
                procs.append(proc)
            conns = {d: http.client.HTTPConnection("127.0.0.1", port, timeout=60) for d, port in ports.items()}
            # The plugin's worker learns the vregion within its refresh interval; then both answer as expected.
            deadline = time.monotonic() + 30
            while {s["type"] for s in issue(conns["mercador"], bodies["vregion user"])[1]} != {"identity"}:
                assert time.monotonic() < deadline, "the plugin did not confine the vregion user's catalog"
                time.sleep(0.5)
            full = {s["type"] for s in issue(conns["sql"], bodies["vregion user"])[1]}
            assert full > {"identity"}, full
            assert {s["type"] for s in issue(conns["mercador"], bodies["user outside any vregion"])[1]} == full
            this: dict[tuple[str, str], list[float]] = {c: [] for c in cases}
            for i in range(20 + rounds // 2):
                order = cases[:]
                random.shuffle(order)
                for who, driver in order:
                    ms, _ = issue(conns[driver], bodies[who])
                    if i >= 20:
                        this[(who, driver)].append(ms)
            legs.append(this)
            for c in cases:
                samples[c] += this[c]
            stop(procs)

        def row(data: dict[tuple[str, str], list[float]], who: str) -> str:
            cells = []
            for driver in ("sql", "mercador"):
                s = sorted(data[(who, driver)])
                cells.append((statistics.median(s), s[max(0, int(len(s) * 0.95) - 1)], statistics.fmean(s)))
            diff = (cells[1][0] - cells[0][0]) / cells[0][0] * 100.0
            return (f"{cells[0][0]:.1f} / {cells[0][1]:.1f} / {cells[0][2]:.1f} | "
                    f"{cells[1][0]:.1f} / {cells[1][1]:.1f} / {cells[1][2]:.1f} | {diff:+.1f} %")

        # The driver's own cost, without HTTP: get_v3_catalog in one process, both drivers alternately.
        calls = int(os.environ.get("BENCH_CALLS", "2000"))
        inproc = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("catalog_inproc.py"))],
            input=json.dumps({"conf": str(plugin_conf), "calls": calls,
                              "cases": {who: [u["user_id"], u["project_id"]] for who, u in users.items()}}),
            capture_output=True, text=True, check=True,
        )
        calls_us = json.loads(inproc.stdout)

        print(f"token issue on Keystone B, {rounds} rounds in two legs (ms: median / p95 / mean)")
        print("| user | rounds | SQL driver | mercador driver | median difference |")
        print("|---|---|---|---|---|")
        for who in users:
            for leg, first in enumerate(("mercador", "sql")):
                print(f"| {who} | leg {leg + 1} ({first} started first), {rounds // 2} | {row(legs[leg], who)} |")
            print(f"| {who} | both legs, {len(samples[(who, 'sql')])} | {row(samples, who)} |")
        print()
        print(f"get_v3_catalog in-process, {calls} calls each, alternated (µs: median / p95 / mean)")
        print("| user | SQL driver | mercador driver | median difference |")
        print("|---|---|---|---|")
        for who in users:
            cells = []
            for driver in ("sql", "mercador"):
                s = sorted(calls_us[who][driver])
                cells.append((statistics.median(s), s[max(0, int(len(s) * 0.95) - 1)], statistics.fmean(s)))
            print(f"| {who} | {cells[0][0]:.0f} / {cells[0][1]:.0f} / {cells[0][2]:.0f} | "
                  f"{cells[1][0]:.0f} / {cells[1][1]:.0f} / {cells[1][2]:.0f} | "
                  f"{cells[1][0] - cells[0][0]:+.0f} µs |")
    finally:
        stop(procs)
        for user_id, project_id in made:
            conn.identity.delete_user(user_id)
            conn.identity.delete_project(project_id)
        try:
            admin.delete_vregion(name, purge=True)
        except mercador.NotFound:
            pass
        conn.close()
        publisher.stop()


if __name__ == "__main__":
    main()
