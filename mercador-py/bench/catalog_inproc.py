#!/usr/bin/env python3
"""In-process half of the catalog driver's benchmark (catalog_plugin.py runs it
in the testbed's venv): Keystone B's configuration and database loaded as a
Keystone worker loads them, then `get_v3_catalog(user, project)` of Keystone's
SQL driver and of Mercador's, called alternately. Input (stdin, JSON):
{"conf": path, "calls": n, "cases": {name: [user_id, project_id]}}. Output
(stdout, JSON): {name: {"sql": [µs...], "mercador": [µs...]}}."""

from __future__ import annotations

import json
import sys
import time

import keystone.conf
from keystone.catalog.backends import sql as sql_catalog
from keystone.common import sql
from keystone.server import backends

cfg = json.load(sys.stdin)
CONF = keystone.conf.CONF
keystone.conf.configure()
keystone.conf.set_config_defaults()
CONF(args=[], project="keystone", default_config_files=[cfg["conf"]])
sql.initialize()
backends.load_backends()

from mercador.keystone.catalog import Catalog  # noqa: E402

drivers = {"sql": sql_catalog.Catalog(), "mercador": Catalog()}
out: dict[str, dict[str, list[float]]] = {}
for name, (user_id, project_id) in cfg["cases"].items():
    for driver in drivers.values():  # warm-up (and the driver's first read of the store)
        for _ in range(20):
            driver.get_v3_catalog(user_id, project_id)
    samples: dict[str, list[float]] = {"sql": [], "mercador": []}
    for i in range(cfg["calls"]):
        order = ("sql", "mercador") if i % 2 == 0 else ("mercador", "sql")
        for key in order:
            t0 = time.perf_counter()
            drivers[key].get_v3_catalog(user_id, project_id)
            samples[key].append((time.perf_counter() - t0) * 1e6)
    out[name] = samples
json.dump(out, sys.stdout)
