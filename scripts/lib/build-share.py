#!/usr/bin/env python3
"""Does the wheel's build share its dependencies with the test build?

`maturin build` compiles mercador-py alone (`cargo rustc -p mercador-py`), the
tests compile the workspace (`cargo test --workspace --profile dev`). Cargo
enables a dependency's features from the packages being built, so the two
compiled most dependencies twice until workspace-hack/ asked, on
mercador-py's behalf, for the features the workspace enables anyway. This
compares cargo's unit graphs of both builds (features, profile, and every
dependency below, recursively) and names the units of the wheel's build the
test build does not have, other than pyo3's (built with `extension-module`
for the wheel only) and mercador-py's own.

Advisory: a drift costs build time, never correctness, so the exit status is
0 either way. The unit graph is an unstable cargo option, read here through
RUSTC_BOOTSTRAP=1 for this one diagnostic; nothing is built.

    scripts/lib/build-share.py
"""

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = ("pyo3", "pyo3-ffi", "pyo3-build-config", "mercador-py")


def unit_graph(args: list[str]) -> list[dict] | None:
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    proc = subprocess.run(
        ["cargo", *args, "--locked", "--unit-graph", "-Z", "unstable-options"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        print(f"build sharing: not checked (cargo {args[0]} --unit-graph failed: {proc.stderr.strip()[-300:]})")
        return None
    return json.loads(proc.stdout)["units"]


def signatures(units: list[dict]) -> list[str]:
    @functools.cache
    def sig(i: int) -> str:
        u = units[i]
        deps = sorted(sig(d["index"]) + d["extern_crate_name"] for d in u["dependencies"])
        key = [u["pkg_id"], u["target"]["name"], u["target"]["kind"], u["mode"], u["features"], u["profile"], u["platform"], deps]
        return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()

    return [sig(i) for i in range(len(units))]


def name(unit: dict) -> str:
    # "registry+https://...#tokio@1.54.1" or "path+file:///.../mercador-py#0.1.0"
    pkg = unit["pkg_id"]
    tail = pkg.rsplit("#", 1)[-1]
    return tail.split("@")[0] if "@" in tail else pkg.rsplit("#", 1)[0].rsplit("/", 1)[-1]


def main() -> int:
    wheel = unit_graph(["build", "-p", "mercador-py", "--features", "pyo3/extension-module"])
    tests = unit_graph(["test", "--workspace", "--no-run", "--profile", "dev"])
    if wheel is None or tests is None:
        return 0
    shared = set(signatures(tests))
    apart = sorted({name(u) for u, s in zip(wheel, signatures(wheel)) if s not in shared and name(u) not in OWN})
    if apart:
        print(
            f"build sharing: WARNING: the wheel's build compiles {len(apart)} dependencies the test build does not share: "
            f"{', '.join(apart)}. Add the workspace's features of the lowest of them to workspace-hack/Cargo.toml "
            "(compare `cargo tree -e features -i <crate>` for both builds)."
        )
    else:
        print(f"build sharing: ok (the wheel's build shares all of its {len(wheel)} units with the test build, except pyo3's and mercador-py's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
