"""Real clients no one here wrote, with the plugin: the openstack CLI and
openstacksdk in the vregion's region of alice's cloud, compared with the
openstack CLI's own ``--os-service-provider``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

import mercador
from conftest import mercador_bin


@pytest.fixture(scope="module")
def clouds_yaml(story: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the testbed's clouds.yaml with the vregion regions the
    ``mercador`` command writes for alice's cloud."""
    path = tmp_path_factory.mktemp("clouds") / "clouds.yaml"
    shutil.copy(story["tb"]["OS_CLIENT_CONFIG_FILE"], path)
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(path))
    printed = subprocess.run(
        [mercador_bin(), "--os-cloud", "testbed-a-alice", "clouds-yaml"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert printed.returncode == 0, printed.stderr
    shown = yaml.safe_load(printed.stdout)["clouds"]["testbed-a-alice"]["regions"]
    done = subprocess.run(
        [mercador_bin(), "--os-cloud", "testbed-a-alice", "clouds-yaml", "--write"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (path.parent / "clouds.yaml.bak").is_file()
    cloud = yaml.safe_load(path.read_text())["clouds"]["testbed-a-alice"]
    entry = next(r for r in cloud["regions"] if isinstance(r, dict) and r["name"] == story["alias"])
    assert entry["values"]["auth_type"] == "mercador-k2k"
    assert entry["values"]["auth"]["mercador_service_provider"] == story["sp"]
    assert entry["values"]["auth"]["mercador_remote_region"] == story["tb"]["KEYSTONE_B_REGION"]
    assert story["tb"]["KEYSTONE_A_REGION"] in cloud["regions"]
    assert cloud["regions"] == shown
    assert cloud["auth"]["password"] == story["tb"]["KEYSTONE_A_DEMO_PASSWORD"]  # the rest of the file kept
    assert oct(path.stat().st_mode & 0o777) == oct(Path(story["tb"]["OS_CLIENT_CONFIG_FILE"]).stat().st_mode & 0o777)
    return path


def openstack(clouds: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    cli = str(Path(sys.executable).with_name("openstack"))
    done = subprocess.run([cli, "--os-cloud", "testbed-a-alice", *args, "-f", "json"], env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:  # again with --debug, for the traceback
        debug = subprocess.run([cli, "--debug", "--os-cloud", "testbed-a-alice", *args], env=env,
                               capture_output=True, text=True, timeout=120)
        raise AssertionError(f"openstack {' '.join(args)}: {done.stderr[-500:]}\n{debug.stderr[-3000:]}")
    return json.loads(done.stdout)


def b_token_info(story: dict[str, Any], token: str) -> dict[str, Any]:
    """What Keystone B says of a token (validated by B's admin)."""
    admin_token = story["b_admin"].token().id
    request = urllib.request.Request(
        f"{story['tb']['KEYSTONE_B_URL']}/auth/tokens",
        headers={"X-Auth-Token": admin_token, "X-Subject-Token": token},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)["token"]


def test_openstack_cli_in_the_vregion_region(story: dict[str, Any], clouds_yaml: Path) -> None:
    alias = story["alias"]
    token = openstack(clouds_yaml, "--os-region-name", alias, "token", "issue")
    info = b_token_info(story, token["id"])
    domain_id = story["admin"].vregion(story["vregion"])["domain_id"]
    assert info["project"]["domain"]["id"] == domain_id  # a token of B, inside the vregion's domain
    assert info["user"]["OS-FEDERATION"]["identity_provider"]["id"]
    catalog = openstack(clouds_yaml, "--os-region-name", alias, "catalog", "list")
    regions = {e["region"] for s in catalog for e in s["Endpoints"]} if catalog and "Endpoints" in catalog[0] else {
        line.split(":", 1)[0] for s in catalog for line in str(s.get("endpoints", "")).splitlines() if ":" in line
    }
    text = json.dumps(catalog)
    assert alias in text and story["tb"]["KEYSTONE_B_REGION"] not in text, text
    assert regions and all(alias in r for r in regions), regions
    # A call to a service of the vregion (B's Keystone, found in the catalog under the alias).
    project = openstack(clouds_yaml, "--os-region-name", alias, "project", "show", token["project_id"])
    assert project["id"] == token["project_id"] and project["domain_id"] == domain_id

    # The same as the openstack CLI's own K2K, given B's names.
    sp_token = openstack(
        clouds_yaml,
        "--os-service-provider", story["sp"],
        "--os-remote-project-name", project["name"],
        "--os-remote-project-domain-id", domain_id,
        "token", "issue",
    )
    sp_info = b_token_info(story, sp_token["id"])
    assert sp_token["user_id"] == token["user_id"] and sp_token["project_id"] == token["project_id"]
    assert {r["name"] for r in sp_info["roles"]} == {r["name"] for r in info["roles"]}


def test_openstack_cli_home_region_is_unchanged(story: dict[str, Any], clouds_yaml: Path) -> None:
    token = openstack(clouds_yaml, "token", "issue")
    assert token["project_id"] == story["a_admin"].token().project_id or token["project_id"]
    home = mercador.Cloud.from_config("testbed-a-alice").token()
    assert token["user_id"] == home.user_id and token["project_id"] == home.project_id


def test_openstacksdk_in_the_vregion_region(story: dict[str, Any], clouds_yaml: Path) -> None:
    import openstack as sdk  # noqa: PLC0415

    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)  # read before config_files
    config = sdk.config.OpenStackConfig(config_files=[str(clouds_yaml)])
    region = config.get_one(cloud="testbed-a-alice", region_name=story["alias"])
    conn = sdk.connection.Connection(config=region)
    try:
        assert type(conn.session.auth).__name__ == "MercadorK2K"
        token = conn.session.get_token()
        info = b_token_info(story, token)
        domain_id = story["admin"].vregion(story["vregion"])["domain_id"]
        assert info["project"]["domain"]["id"] == domain_id
        project = conn.identity.get_project(info["project"]["id"])
        assert project.domain_id == domain_id
        assert conn.session.get_endpoint(service_type="identity", region_name=story["alias"]).startswith(
            story["tb"]["KEYSTONE_B_URL"].removesuffix("/v3")
        )
        access = conn.session.auth.get_access(conn.session)
        assert access.service_catalog.get_endpoints(service_type="identity", region_name=story["alias"])
    finally:
        conn.close()
    # openstack.connect with the region, as a user writes it.
    try:
        conn = sdk.connect(cloud="testbed-a-alice", region_name=story["alias"])
        assert conn.identity.get_project(info["project"]["id"]).id == info["project"]["id"]
        conn.close()
    finally:
        os.environ["OS_CLIENT_CONFIG_FILE"] = story["tb"]["OS_CLIENT_CONFIG_FILE"]
