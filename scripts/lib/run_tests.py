#!/usr/bin/env python3
"""Runs the workspace's test binaries in lanes: several binaries at once.

`cargo test` runs one test binary after another (the tests of one binary run
in parallel). Most of this suite's time is tests waiting on Keystone, not on
the CPU, so scripts/test builds every test binary once, then runs them in
LANES lanes side by side, longest first (by the durations of the previous
run, kept in target/mercador-test-durations.json; on a fresh clone those
of scripts/lib/test-durations.json), each binary in its
package's directory as cargo would. Binaries that change what every other
test sees (EXCLUSIVE below) run alone, after the lanes. Doc tests run as one
more job (`cargo test --doc`).

Each binary's output is printed whole when it ends, so outputs never
interleave. The last line is the whole run's `N passed, N failed`; the exit
status is 1 if any binary failed.

    run_tests.py [--lanes N]

Environment: RUST_TEST_THREADS (tests at once within a binary) and
MERCADOR_TESTBED_ENV are passed through to the binaries.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Binaries that must run while no other test runs: they change or inventory
# what all tests share (their doc comments say why).
EXCLUSIVE = {
    "publisher_inventory",  # compares an inventory of all of Keystone B before and after
}

ROOT = Path(__file__).resolve().parents[2]
# The dev profile rather than cargo test's "test" profile (the same settings
# under another name, which cargo hashes): the wheel's build (maturin, dev
# profile) then shares the dependencies it compiled (workspace-hack/).
PROFILE = ["--profile", "dev"]
RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed")


@dataclass
class Job:
    name: str
    argv: list[str]
    cwd: Path
    passed: int = 0
    failed: int = 0
    rc: int = 0
    seconds: float = 0.0
    output: str = field(default="", repr=False)


def cargo_json(args: list[str]) -> list[dict]:
    """Runs cargo with JSON messages (diagnostics rendered on stderr)."""
    proc = subprocess.run(
        ["cargo", *args, "--message-format=json-render-diagnostics"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"cargo {' '.join(args)} failed (exit {proc.returncode}); see the errors above")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_binaries() -> list[Job]:
    """Builds every test binary of the workspace, as `cargo test` would."""
    jobs = []
    for msg in cargo_json(["test", "--workspace", "--locked", "--no-run", *PROFILE]):
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg["profile"]["test"]:
            continue
        target = msg["target"]
        package = msg["package_id"].split("#")[0].rsplit("/", 1)[-1]
        kind = target["kind"][0]
        name = target["name"] if kind == "test" else f"{package} ({kind} {target['name']})"
        cwd = Path(msg["manifest_path"]).parent
        jobs.append(Job(name, [msg["executable"]], cwd))
    return jobs


def run(job: Job, lock: threading.Lock) -> None:
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.run(job.argv, cwd=job.cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
        out.seek(0)
        job.output = out.read()
    job.rc = proc.returncode
    job.seconds = time.monotonic() - started
    for line in job.output.splitlines():
        m = RESULT.match(line)
        if m:
            job.passed += int(m.group(1))
            job.failed += int(m.group(2))
    if job.rc != 0 and job.failed == 0:
        job.failed = 1  # crashed or failed to start: count it, never hide it
    with lock:
        status = "ok" if job.rc == 0 else f"FAILED (exit {job.rc})"
        print(f"\n---- {job.name}: {status} in {job.seconds:.0f} s", flush=True)
        sys.stdout.write(job.output)
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=int(os.environ.get("MERCADOR_TEST_LANES", "2")))
    lanes = max(1, parser.parse_args().lanes)

    durations_file = ROOT / "target" / "mercador-test-durations.json"
    durations: dict[str, float] = {}
    # This checkout's last run, else the committed figures of one run (a
    # fresh clone): only the order depends on them.
    for source in (durations_file, Path(__file__).with_name("test-durations.json")):
        try:
            durations = json.loads(source.read_text())
            break
        except (OSError, ValueError):
            continue

    jobs = test_binaries()
    jobs.append(Job("doc tests", ["cargo", "test", "--workspace", "--locked", "--doc", *PROFILE], ROOT))
    shared = sorted((j for j in jobs if j.name not in EXCLUSIVE), key=lambda j: -durations.get(j.name, 0.0))
    alone = [j for j in jobs if j.name in EXCLUSIVE]
    print(
        f"{len(jobs)} test binaries: {len(shared)} in {lanes} lanes, then {len(alone)} alone "
        f"({', '.join(j.name for j in alone)})",
        flush=True,
    )

    lock = threading.Lock()
    todo: queue.Queue[Job] = queue.Queue()
    for job in shared:
        todo.put(job)

    def lane() -> None:
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            run(job, lock)

    threads = [threading.Thread(target=lane) for _ in range(lanes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for job in alone:
        run(job, lock)

    durations.update({j.name: round(j.seconds, 1) for j in jobs})
    try:
        durations_file.write_text(json.dumps(durations, indent=1, sort_keys=True))
    except OSError:
        pass  # only an ordering hint for the next run

    slowest = sorted(jobs, key=lambda j: -j.seconds)[:6]
    print("\nslowest binaries: " + ", ".join(f"{j.name} {j.seconds:.0f} s" for j in slowest))
    failed = [j.name for j in jobs if j.rc != 0]
    if failed:
        print("failed binaries: " + ", ".join(failed))
    passed = sum(j.passed for j in jobs)
    failures = sum(j.failed for j in jobs)
    # The line scripts/test sums into the run's closing line.
    print(f"cargo tests: {passed} passed, {failures} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
