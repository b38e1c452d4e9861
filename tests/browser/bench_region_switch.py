"""Benchmark: the region switch into a vregion against Horizon's own
keystone-provider switch, in one run, in a real browser.

Not part of the suite (pytest collects ``test_*.py``); run it with
``scripts/lib/browser-tests.sh --bench``. On the story of the suite (a
vregion with B's Glance bound on A), alice logs in once, then N times
(``MERCADOR_BENCH_N``, default 10) each way:

- Mercador: she picks the vregion's alias in the region menu (Mercador's
  view: K2K into the vregion, scoped to her project's match, catalog under
  the alias), then A's region to come back;
- Horizon: she picks ``mercador-<alias>`` in Horizon's keystone-provider
  menu (openstack_auth's ``switch_keystone_provider``: keystoneauth's
  Keystone2Keystone, then a project-scoped login at B), then ``Keystone A``.

Each figure is from the click to the next page loaded
(``document.readyState == "complete"``); the table gives the median, min
and max of the switch into B and of the switch back.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from conftest import vregion_spec
from test_region_switch import WAIT, _choose_region, _header_region, _login

N = int(os.environ.get("MERCADOR_BENCH_N", "10"))


def _choose_provider(browser: WebDriver, provider_id: str) -> float:
    browser.find_element(By.CSS_SELECTOR, "#keystone_provider_list").find_element(By.XPATH, "..").find_element(
        By.CSS_SELECTOR, "a.dropdown-toggle"
    ).click()
    link = WebDriverWait(browser, WAIT).until(
        ec.element_to_be_clickable(
            (By.CSS_SELECTOR, f"#keystone_provider_list a[href*='/auth/switch_keystone_provider/{provider_id}/']")
        )
    )
    old = browser.find_element(By.TAG_NAME, "html")
    start = time.perf_counter()
    link.click()
    WebDriverWait(browser, WAIT).until(ec.staleness_of(old))
    WebDriverWait(browser, WAIT).until(lambda b: b.execute_script("return document.readyState") == "complete")
    return time.perf_counter() - start


def _row(name: str, figures: list[float]) -> str:
    ms = sorted(f * 1000 for f in figures)
    return f"| {name} | {statistics.median(ms):.0f} | {ms[0]:.0f} | {ms[-1]:.0f} |"


def test_bench_region_switch(browser: WebDriver, story: dict[str, Any], shots: Path) -> None:
    tb = story["tb"]
    alias = story["alias"]
    home = tb["KEYSTONE_A_REGION"]
    idp = tb["HORIZON_KEYSTONE_PROVIDER_IDP_ID"]
    sub = story["sub"]
    # B's side through the publisher's API (the suite does it in B's Horizon).
    onboarded = story["admin"].onboard_partner(story["partner"], description="browser benchmark")
    story["admin"].create_vregion(vregion_spec(story))
    story["admin"].publish_vregion(story["vregion"])
    sub.register_publisher(
        story["publisher"],
        keystone_url=tb["KEYSTONE_B_URL"],
        application_credential_id=onboarded["application_credential_id"],
        application_credential_secret=onboarded["application_credential_secret"],
        exchange_url=story["exchange_url"],
    )
    sub.bind(story["publisher"], story["vregion"], alias=alias)
    _login(browser, tb, shots, "bench")
    ours_in, ours_back, theirs_in, theirs_back = [], [], [], []
    for _ in range(N):
        ours_in.append(_choose_region(browser, alias))
        assert _header_region(browser) == alias
        ours_back.append(_choose_region(browser, home))
        assert _header_region(browser) == home
        theirs_in.append(_choose_provider(browser, f"mercador-{alias}"))
        assert not browser.find_elements(By.CSS_SELECTOR, ".alert-danger")
        theirs_back.append(_choose_provider(browser, idp))
        assert _header_region(browser) == home
    print()
    print(f"Region switch, click to page loaded, ms, N={N} each (one run, one browser):")
    print("| switch | median | min | max |")
    print("|---|---|---|---|")
    print(_row(f"Mercador: region menu -> vregion {alias}", ours_in))
    print(_row(f"Horizon: keystone-provider menu -> mercador-{alias}", theirs_in))
    print(_row(f"Mercador: region menu -> {home} (home)", ours_back))
    print(_row("Horizon: keystone-provider menu -> Keystone A (home)", theirs_back))
