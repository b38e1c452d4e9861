"""Keystone B's catalog driver ``mercador`` (``mercador.keystone.catalog``),
judged through K2K by keystoneauth1 and the ``openstack`` CLI: alice's
token in the story's vregion lists only the vregion's service types in its
region; B's admin and a user of B outside any vregion see the full
catalog; a change and a withdrawal reach the catalog within the documented
delay; with the publisher's store unreachable, vregion tokens get an
empty catalog and everyone else the full one.

The story's publisher keeps its store in the testbed's ``mercador_b``
database, which B's ``[mercador] store_url`` names (testbed/testbed.sh).
The last test makes that database refuse connections for a while: the
Python suite runs after the Rust tests, alone on the testbed
(scripts/test), so no other vregion token is affected meanwhile."""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openstack as sdk
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from conftest import alice_auth

#: [mercador] refresh_interval on the testbed (s): the documented delay is this plus one read.
REFRESH_INTERVAL = 2.0
#: [mercador] max_staleness on the testbed (s).
MAX_STALENESS = 10.0
#: Generous bounds for a loaded machine (tests never time; benches do).
CHANGE_BOUND = 30.0
FAIL_BOUND = 60.0


def types_of(catalog: list[dict[str, Any]]) -> set[str]:
    return {s["type"] for s in catalog}


def regions_of(catalog: list[dict[str, Any]]) -> set[str]:
    return {e.get("region_id") or e.get("region") for s in catalog for e in s["endpoints"]}


def alice_k2k(story: dict[str, Any], project_id: str | None = None) -> tuple[Any, ks_session.Session]:
    """alice's K2K access on B through keystoneauth1's own plugin (unscoped, or scoped to ``project_id``)."""
    tb = story["tb"]
    auth = alice_auth(tb)
    home = v3.Password(**auth)
    extra = {"project_id": project_id} if project_id else {}
    plugin = v3.Keystone2Keystone(home, story["sp"], **extra)
    sess = ks_session.Session(auth=plugin)
    return plugin.get_access(sess), sess


@pytest.fixture(scope="module")
def vregion_project(story: dict[str, Any]) -> str:
    """The project alice lands in, inside the vregion's domain."""
    _, sess = alice_k2k(story)
    projects = sess.get(f"{story['tb']['KEYSTONE_B_URL']}/auth/projects").json()["projects"]
    domain_id = story["admin"].vregion(story["vregion"])["domain_id"]
    inside = [p["id"] for p in projects if p["domain_id"] == domain_id]
    assert len(inside) == 1, projects
    return inside[0]


def alice_catalog(story: dict[str, Any], project_id: str) -> list[dict[str, Any]]:
    access, _ = alice_k2k(story, project_id)
    assert access.project_id == project_id
    catalog: list[dict[str, Any]] = access.service_catalog.catalog
    return catalog


def b_admin_catalog(tb: dict[str, str]) -> list[dict[str, Any]]:
    plugin = v3.Password(
        auth_url=tb["KEYSTONE_B_URL"], username=tb["KEYSTONE_B_ADMIN_USER"], password=tb["KEYSTONE_B_ADMIN_PASSWORD"],
        user_domain_name=tb["KEYSTONE_B_ADMIN_DOMAIN"], project_name=tb["KEYSTONE_B_ADMIN_PROJECT"],
        project_domain_name=tb["KEYSTONE_B_ADMIN_DOMAIN"],
    )
    catalog: list[dict[str, Any]] = plugin.get_access(ks_session.Session(auth=plugin)).service_catalog.catalog
    return catalog


def enabled_endpoints(tb: dict[str, str]) -> set[str]:
    """Every enabled endpoint of an enabled service of B: what the SQL driver lists for everyone."""
    conn = sdk.connect(cloud="testbed-b")
    try:
        services = {s.id for s in conn.identity.services() if s.is_enabled}
        return {e.id for e in conn.identity.endpoints() if e.is_enabled and e.service_id in services}
    finally:
        conn.close()


def endpoint_ids(catalog: list[dict[str, Any]]) -> set[str]:
    return {e["id"] for s in catalog for e in s["endpoints"]}


@pytest.fixture(scope="module")
def outsider(story: dict[str, Any]) -> Iterator[dict[str, str]]:
    """A user of B with a project of B's Default domain: outside any vregion."""
    tb = story["tb"]
    name = f"py-outside-{secrets.token_hex(3)}"
    password = secrets.token_hex(16)
    conn = sdk.connect(cloud="testbed-b")
    project = conn.identity.create_project(name=name, domain_id="default")
    user = conn.identity.create_user(name=name, password=password, domain_id="default", default_project_id=project.id)
    try:
        role = conn.identity.find_role("member")
        conn.identity.assign_project_role_to_user(project, user, role)
        yield {"auth_url": tb["KEYSTONE_B_URL"], "username": name, "password": password, "project_id": project.id,
               "user_domain_id": "default"}
    finally:
        conn.identity.delete_user(user)
        conn.identity.delete_project(project)
        conn.close()


def outsider_catalog(outsider: dict[str, str]) -> list[dict[str, Any]]:
    plugin = v3.Password(**outsider)
    catalog: list[dict[str, Any]] = plugin.get_access(ks_session.Session(auth=plugin)).service_catalog.catalog
    return catalog


def wait_until(what: str, check: Callable[[], bool], bound: float) -> float:
    """Seconds until ``check()`` holds (fails past ``bound``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < bound, f"{what}: not within {bound} s"
        time.sleep(0.25)
    return time.monotonic() - started


def openstack_cli(*args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = os.environ["OS_CLIENT_CONFIG_FILE"]
    cli = str(Path(sys.executable).with_name("openstack"))
    done = subprocess.run([cli, *args, "-f", "json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    return json.loads(done.stdout)


def test_alice_in_the_vregion_sees_only_its_services(story: dict[str, Any], vregion_project: str) -> None:
    tb = story["tb"]
    region = tb["KEYSTONE_B_REGION"]
    full = b_admin_catalog(tb)
    assert "image" in types_of(full), types_of(full)  # B has more than the vregion exposes (Glance)
    catalog = alice_catalog(story, vregion_project)
    assert types_of(catalog) == set(story["spec"]["service_types"]) == {"identity"}, catalog
    assert regions_of(catalog) == {region}
    # Her token validated by B's admin carries the same catalog.
    conn = sdk.connect(cloud="testbed-b")
    try:
        access, sess = alice_k2k(story, vregion_project)
        validated = conn.identity.get(
            "/auth/tokens", headers={"X-Subject-Token": access.auth_token}
        ).json()["token"]["catalog"]
    finally:
        conn.close()
    assert types_of(validated) == {"identity"} and regions_of(validated) == {region}
    # The openstack CLI's own K2K (--os-service-provider) lists the same.
    listed = openstack_cli(
        "--os-cloud", "testbed-a-alice", "--os-service-provider", story["sp"],
        "--os-remote-project-id", vregion_project, "catalog", "list",
    )
    assert {s["Type"] for s in listed} == {"identity"}, listed


def test_b_admin_and_a_user_outside_any_vregion_see_the_full_catalog(
    story: dict[str, Any], outsider: dict[str, str]
) -> None:
    tb = story["tb"]
    every = enabled_endpoints(tb)
    assert endpoint_ids(b_admin_catalog(tb)) == every
    assert endpoint_ids(outsider_catalog(outsider)) == every
    listed = openstack_cli("--os-cloud", "testbed-b", "catalog", "list")
    assert {s["Type"] for s in listed} == types_of(b_admin_catalog(tb))


def test_a_change_and_a_withdrawal_reach_the_catalog_within_the_delay(
    story: dict[str, Any], vregion_project: str
) -> None:
    admin, name = story["admin"], story["vregion"]
    spec = dict(story["spec"])
    wider = {**spec, "service_types": ["identity", "image"]}
    try:
        admin.replace_vregion(name, wider)
        took = wait_until("image in alice's catalog",
                          lambda: types_of(alice_catalog(story, vregion_project)) == {"identity", "image"},
                          CHANGE_BOUND)
        print(f"change shown after {took:.1f} s (documented: {REFRESH_INTERVAL} s plus one read)")
        assert regions_of(alice_catalog(story, vregion_project)) == {story["tb"]["KEYSTONE_B_REGION"]}
        # Withdrawn: no new subscription, but alice's runs on, still confined to the vregion.
        assert admin.withdraw_vregion(name)["state"] == "withdrawn"
        admin.replace_vregion(name, spec)
        took = wait_until("image gone from alice's catalog",
                          lambda: types_of(alice_catalog(story, vregion_project)) == {"identity"}, CHANGE_BOUND)
        print(f"withdrawn and narrowed: shown after {took:.1f} s")
    finally:
        admin.replace_vregion(name, spec)
        if admin.vregion(name)["state"] != "published":
            admin.publish_vregion(name)
    wait_until("alice's catalog back to identity",
               lambda: types_of(alice_catalog(story, vregion_project)) == {"identity"}, CHANGE_BOUND)


def psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))), None)
    assert found, "no psql (the testbed installs PostgreSQL)"
    return found


def store_connections(tb: dict[str, str], allow: bool) -> None:
    """Lets the publisher's store (database mercador_b) take connections or not; ends the open ones."""
    sql = f"ALTER DATABASE mercador_b ALLOW_CONNECTIONS {'true' if allow else 'false'};"
    if not allow:
        sql += (" SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = 'mercador_b' AND pid <> pg_backend_pid();")
    done = subprocess.run([psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", tb["MERCADOR_POSTGRES_URL"], "-c", sql],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def keystone_b_log(tb: dict[str, str]) -> Path:
    return Path(tb["MERCADOR_TESTBED_STATE"]) / "logs" / "keystone-b.log"


def test_store_unreachable_fails_closed_for_the_vregion_only(
    story: dict[str, Any], vregion_project: str, outsider: dict[str, str]
) -> None:
    tb = story["tb"]
    every = enabled_endpoints(tb)
    log = keystone_b_log(tb)
    log_start = log.stat().st_size
    try:
        store_connections(tb, allow=False)
        took = wait_until("alice's catalog empty", lambda: alice_catalog(story, vregion_project) == [], FAIL_BOUND)
        print(f"failed closed after {took:.1f} s (documented: at most {MAX_STALENESS} s + {REFRESH_INTERVAL} s)")
        # That was one of B's two workers; the other's last good read may be up to one interval later.
        time.sleep(REFRESH_INTERVAL + 2.0)
        # Both of B's workers, several tokens: empty for alice, full for the others.
        for _ in range(4):
            assert alice_catalog(story, vregion_project) == []
            assert endpoint_ids(outsider_catalog(outsider)) == every
            assert endpoint_ids(b_admin_catalog(tb)) == every
        with log.open() as f:
            f.seek(log_start)
            lines = [line for line in f if "mercador: empty catalog for a token of project" in line]
        assert lines and vregion_project in lines[-1] and "not current" in lines[-1], lines[-3:]
        password = tb["MERCADOR_B_PUBLISHER_DATABASE_URL"].split(":")[2].split("@")[0]
        assert password not in log.read_text()[log_start:]
    finally:
        store_connections(tb, allow=True)
    took = wait_until("alice's catalog back", lambda: types_of(alice_catalog(story, vregion_project)) == {"identity"},
                      FAIL_BOUND)
    print(f"store back: alice's catalog confined again after {took:.1f} s")
