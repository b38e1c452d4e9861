"""Benchmark (not a test): K2K from Python with mercador and with
keystoneauth1's Keystone2Keystone, and the openstack CLI's ``token issue``
in a vregion's region through the mercador-k2k plugin against the same
through ``--os-service-provider``. Printed side by side.

Run against a running testbed with the release wheel installed in its venv:
``mercador-py/bench/run`` (builds and installs it, then runs this).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import alice_auth, load_testbed, mercador_bin, running_story  # noqa: E402

import mercador  # noqa: E402

FRESH = int(os.environ.get("BENCH_FRESH", "15"))
CACHED = int(os.environ.get("BENCH_CACHED", "100000"))
CLI = int(os.environ.get("BENCH_CLI", "8"))


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"{statistics.median(values) * 1000:9.2f} / {p95 * 1000:9.2f}"


def timed(n: int, one: Callable[[], Any]) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        one()
        out.append(time.perf_counter() - started)
    return out


def per_call_us(n: int, one: Callable[[], Any]) -> float:
    started = time.perf_counter()
    for _ in range(n):
        one()
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    tb = load_testbed()
    with tempfile.TemporaryDirectory() as workdir, running_story(tb, Path(workdir)) as story:
        sp = story["sp"]
        auth = alice_auth(tb)
        project_id = mercador.Cloud.from_auth(auth).k2k(sp).token().project_id
        assert project_id

        def ksa_fresh() -> str:
            base = v3.Password(**auth)
            k2k = v3.Keystone2Keystone(base, sp, project_id=project_id)
            return ks_session.Session(auth=k2k).get_token()

        def mercador_fresh() -> str:
            return mercador.Cloud.from_auth(auth).k2k(sp, project_id=project_id).token().id

        # Warm up (connections, imports), then interleave the fresh paths.
        ksa_fresh(), mercador_fresh(), mercador._native._bench_fresh_k2k(auth, sp, project_id, 1)
        rust, py, ksa = [], [], []
        for _ in range(FRESH):
            rust += mercador._native._bench_fresh_k2k(auth, sp, project_id, 1)
            py += timed(1, mercador_fresh)
            ksa += timed(1, ksa_fresh)

        session = mercador.Cloud.from_auth(auth).k2k(sp, project_id=project_id)
        session.token()
        py_cached = per_call_us(CACHED, session.token)
        rust_cached = mercador._native._bench_cached_token(session, CACHED) / CACHED * 1e6
        ks = ks_session.Session(auth=v3.Keystone2Keystone(v3.Password(**auth), sp, project_id=project_id))
        ks.get_token()
        ksa_cached = per_call_us(CACHED, ks.get_token)

        # The openstack CLI: through the plugin (clouds.yaml regions from `mercador clouds-yaml`)
        # against its own --os-service-provider.
        clouds = Path(workdir) / "clouds.yaml"
        shutil.copy(tb["OS_CLIENT_CONFIG_FILE"], clouds)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
        subprocess.run([mercador_bin(), "--os-cloud", "testbed-a-alice", "clouds-yaml", "--write"], env=env,
                       check=True, capture_output=True)
        token = session.token()
        openstack = str(Path(sys.executable).with_name("openstack"))
        plugin_cmd = [openstack, "--os-cloud", "testbed-a-alice", "--os-region-name", story["alias"],
                      "token", "issue", "-f", "value", "-c", "expires"]
        sp_cmd = [openstack, "--os-cloud", "testbed-a-alice", "--os-service-provider", sp,
                  "--os-remote-project-id", project_id, "token", "issue", "-f", "value", "-c", "expires"]
        home_cmd = [openstack, "--os-cloud", "testbed-a-alice", "token", "issue", "-f", "value", "-c", "expires"]
        run = lambda cmd: subprocess.run(cmd, env=env, check=True, capture_output=True)  # noqa: E731
        run(plugin_cmd), run(sp_cmd), run(home_cmd)
        cli_plugin, cli_sp, cli_home = [], [], []
        for _ in range(CLI):
            cli_plugin += timed(1, lambda: run(plugin_cmd))
            cli_sp += timed(1, lambda: run(sp_cmd))
            cli_home += timed(1, lambda: run(home_cmd))
        assert token.project_domain_id

    overhead = (statistics.median(py) / statistics.median(rust) - 1) * 100
    print(f"K2K benchmark, {time.strftime('%Y-%m-%d')}: {FRESH} fresh tokens per path (interleaved), "
          f"{CACHED} cached reads, {CLI} openstack CLI runs per path; mercador {mercador.__version__}")
    print()
    print(f"{'case (ms, median / p95)':58} {'mercador (Python)':>21} {'Rust, in-process':>21} {'keystoneauth1':>21}")
    print(f"{'fresh K2K token (password login on A, then K2K to B)':58} {ms(py):>21} {ms(rust):>21} {ms(ksa):>21}")
    print(f"{'cached SP token (µs per call)':58} {py_cached:>21.3f} {rust_cached:>21.4f} {ksa_cached:>21.3f}")
    print(f"Python over Rust on fresh tokens: {overhead:+.1f} % of the median")
    print()
    print(f"{'openstack token issue (ms, median / p95)':58} {'plugin, --os-region-name':>25} {'--os-service-provider':>25} {'home (A)':>21}")
    print(f"{'one run (a Python start, a login on A, K2K to B)':58} {ms(cli_plugin):>25} {ms(cli_sp):>25} {ms(cli_home):>21}")


if __name__ == "__main__":
    main()
