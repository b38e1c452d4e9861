"""Fixtures of the browser suite: the testbed, a real story on it, chromium.

The story (``story``) is real end to end: B's publisher service and A's
subscriber service (``mercador serve``, SQLite, free ports), a public image
on B's Glance (the one the vregion lists; ``public`` so that the test holds
whether or not ``listed`` shares images to the vregion's projects) and the
names the test gives what it makes in both Horizons (the partner and the
vregion in B's, the publisher and the binding in A's). Everything is
removed at the end, whatever step the test reached. It holds A's SAML identity 0
(``a-entity.lock``), as the demo, the Rust tests through
``testbed-a-alice`` and mercador-py's story do.

``browser`` is one headless Debian ``chromium`` driven by Debian's
``chromedriver`` (``/usr/bin/chromedriver``: Selenium Manager downloads
nothing) for the whole session; screenshots go to
``$MERCADOR_BROWSER_SHOTS`` (default ``target/browser-shots``).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import secrets
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService

import mercador

REPO = Path(__file__).resolve().parents[2]

# mercador-py's test fixtures: the services (Service), the testbed's env, B freed of A's identity 0.
_spec = importlib.util.spec_from_file_location("mercador_py_fixtures", REPO / "mercador-py/tests/conftest.py")
assert _spec and _spec.loader
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)


def _http(method: str, url: str, token: str, body: Any = None, content_type: str = "application/json") -> Any:
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("X-Auth-Token", token)
    if data is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=60) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@pytest.fixture(scope="session")
def tb() -> dict[str, str]:
    return fixtures.load_testbed()


@pytest.fixture(scope="session")
def shots() -> Path:
    path = Path(os.environ.get("MERCADOR_BROWSER_SHOTS") or REPO / "target/browser-shots")
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):  # this run's screenshots only
        old.unlink()
    return path


def vregion_spec(story: dict[str, Any]) -> dict[str, Any]:
    """The vregion of the story: what B's admin enters in B's Horizon (the
    test) or what the benchmark creates through the publisher's API."""
    return {
        "name": story["vregion"],
        "description": "browser test",
        "region": story["tb"]["KEYSTONE_B_REGION"],
        "service_types": ["identity", "image"],
        "roles": ["member", "reader"],
        "visibility": {"images": {"mode": "listed", "ids": [story["image_id"]]}},
        "metadata": {"country": "PT"},
        "max_subscriptions": 1,
        "partners": [story["partner"]],
    }


@pytest.fixture(scope="session")
def story(tb: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("services")
    lock = (Path(tb["MERCADOR_TESTBED_STATE"]) / "a-entity.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # A's SAML identity 0, in turn with the demo and the other suites
    with lock:
        fixtures.free_entity_on_b(tb, tb["KEYSTONE_A_IDP_ENTITY_ID"])
        suffix = secrets.token_hex(3)
        names = {
            "partner": f"web-a-{suffix}",
            "vregion": f"web{suffix}",
            "publisher": f"web-b-{suffix}",
            "alias": f"web-{suffix}",
            "image": f"web-image-{suffix}",
        }
        b_admin = mercador.Cloud.from_config("testbed-b")
        glance = b_admin.endpoint("image", region_name=tb["KEYSTONE_B_REGION"]).rstrip("/")
        publisher = fixtures.Service("publisher", tb, workdir)
        subscriber = fixtures.Service("subscriber", tb, workdir)
        a_admin = mercador.Cloud.from_config("testbed-a")
        admin = mercador.PublisherAdmin(b_admin, url=publisher.url)
        sub = mercador.Subscriber(a_admin, url=subscriber.url)
        image_id = None
        try:
            image = _http(
                "POST",
                f"{glance}/v2/images",
                b_admin.token().id,
                {"name": names["image"], "visibility": "public", "disk_format": "raw", "container_format": "bare"},
            )
            image_id = image["id"]
            _http(
                "PUT",
                f"{glance}/v2/images/{image_id}/file",
                b_admin.token().id,
                b"mercador browser test image\n",
                "application/octet-stream",
            )
            # B's side (onboard the partner, create and publish the vregion) is the test's, in B's
            # Horizon; A's side (register, discover, subscribe, cancel) too, in A's Horizon.
            yield {
                **names,
                "tb": tb,
                "sub": sub,
                "admin": admin,
                "image_id": image_id,
                "exchange_url": f"{publisher.url}/v1/exchange",
            }
        finally:
            try:
                # What the test made on A and did not remove (it failed part-way).
                with contextlib.suppress(mercador.NotFound):
                    sub.cancel_binding(names["alias"])
                with contextlib.suppress(mercador.NotFound):
                    sub.remove_publisher(names["publisher"])
                # What the test made on B (in B's Horizon), whatever step it reached.
                with contextlib.suppress(mercador.NotFound):
                    admin.delete_vregion(names["vregion"], purge=True)
                with contextlib.suppress(mercador.NotFound):
                    admin.remove_partner(names["partner"])
                if image_id:
                    _http("DELETE", f"{glance}/v2/images/{image_id}", b_admin.token().id)
            finally:
                publisher.stop()
                subscriber.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("MERCADOR_CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    service = ChromeService(executable_path=os.environ.get("MERCADOR_CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test leaves a screenshot of where the browser was (``zz-failed-<test>.png``)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "browser" in item.fixturenames:
        driver = item.funcargs.get("browser")
        shots_dir = item.funcargs.get("shots")
        if driver is not None and shots_dir is not None:
            with contextlib.suppress(Exception):
                driver.save_screenshot(str(Path(shots_dir) / f"zz-failed-{item.name}.png"))
