"""``python -m mercador.clouds``: the ``clouds.yaml`` regions of every
vregion bound on one's cloud, for the ``mercador-k2k`` plugin.

For each service provider ``mercador-<alias>`` in the cloud's token (the
subscriber service names them so), it logs in there by K2K, takes the
project the federated user reaches and the region of B whose endpoints the
home catalog shows under ``<alias>``, and prints (or, with ``--write``,
merges into the ``clouds.yaml`` that holds the cloud) the cloud's
``regions:`` list: the cloud's own regions as they are, and one entry per
vregion whose ``values`` choose the plugin. The user never types the
service provider's, project's or domain's names of B.

    python -m mercador.clouds --os-cloud mycloud            # print
    python -m mercador.clouds --os-cloud mycloud --write    # merge into clouds.yaml (a .bak is kept)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import mercador

PREFIX = "mercador-"


def _regions_of(catalog: list[dict[str, Any]]) -> dict[str, set[str]]:
    by_region: dict[str, set[str]] = {}
    for service in catalog:
        for endpoint in service.get("endpoints", []):
            region = endpoint.get("region_id") or endpoint.get("region")
            if region:
                by_region.setdefault(region, set()).add(endpoint["url"].rstrip("/"))
    return by_region


def vregion_regions(cloud: mercador.Cloud) -> list[dict[str, Any]]:
    """One ``regions:`` entry per vregion bound on ``cloud``."""
    home_regions = _regions_of(cloud.token().catalog)
    entries = []
    for sp in cloud.service_providers():
        sp_id = sp["id"]
        if not sp_id.startswith(PREFIX):
            continue
        alias = sp_id[len(PREFIX) :]
        session = cloud.k2k(sp_id)
        token = session.token()
        remote_regions = _regions_of(token.catalog)
        # B's region whose endpoints the home catalog shows under the alias.
        urls = home_regions.get(alias, set())
        remote = max(remote_regions, key=lambda r: len(remote_regions[r] & urls), default=None)
        if remote is not None and not remote_regions[remote] & urls and len(remote_regions) != 1:
            remote = None
        auth: dict[str, Any] = {
            "mercador_service_provider": sp_id,
            "mercador_region_alias": alias,
            "mercador_project_id": token.project_id,
        }
        if remote:
            auth["mercador_remote_region"] = remote
        entries.append({"name": alias, "values": {"auth_type": "mercador-k2k", "auth": auth}})
    return entries


def clouds_yaml_path() -> Path:
    """The clouds.yaml openstacksdk reads first."""
    env = os.environ.get("OS_CLIENT_CONFIG_FILE")
    candidates = [Path(env)] if env else []
    candidates += [
        Path.cwd() / "clouds.yaml",
        Path.home() / ".config/openstack/clouds.yaml",
        Path("/etc/openstack/clouds.yaml"),
    ]
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0]


def merged(clouds: dict[str, Any], name: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The cloud's entry with the vregions' regions replacing earlier ones."""
    cloud = dict(clouds["clouds"][name])
    aliases = {e["name"] for e in entries}
    own: list[Any] = []
    for region in cloud.get("regions") or []:
        region_name = region if isinstance(region, str) else region.get("name")
        values = {} if isinstance(region, str) else region.get("values") or {}
        if region_name in aliases or values.get("auth_type") == "mercador-k2k":
            continue
        own.append(region)
    if not own:
        own = [cloud.get("region_name") or "RegionOne"]
    cloud["regions"] = own + entries
    return cloud


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mercador.clouds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--os-cloud", default=os.environ.get("OS_CLOUD"), required="OS_CLOUD" not in os.environ)
    parser.add_argument("--write", action="store_true", help="merge into the clouds.yaml holding the cloud")
    args = parser.parse_args(argv)
    import yaml  # openstacksdk's and keystone's venvs have PyYAML

    try:
        cloud = mercador.Cloud.from_config(args.os_cloud)
        entries = vregion_regions(cloud)
    except mercador.MercadorError as e:
        print(f"mercador: {e}", file=sys.stderr)
        return 1
    path = clouds_yaml_path()
    clouds = yaml.safe_load(path.read_text()) if path.is_file() else {"clouds": {}}
    if args.os_cloud not in clouds.get("clouds", {}):
        print(f"mercador: cloud {args.os_cloud!r} is not in {path}", file=sys.stderr)
        return 1
    entry = merged(clouds, args.os_cloud, entries)
    if args.write:
        shutil.copy2(path, path.with_name(path.name + ".bak"))
        clouds["clouds"][args.os_cloud] = entry
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(clouds, sort_keys=False))
        os.chmod(tmp, path.stat().st_mode & 0o777)
        tmp.replace(path)
        names = ", ".join(e["name"] for e in entries) or "none"
        print(f"{path}: cloud {args.os_cloud}: vregion regions {names}", file=sys.stderr)
    else:
        print(yaml.safe_dump({"clouds": {args.os_cloud: {"regions": entry["regions"]}}}, sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
