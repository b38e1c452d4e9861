"""What a vregion's token may see: the index of vregions by domain and the
filter of a catalog. Pure Python, no Keystone import, so that it is tested
without Keystone (``mercador-py/tests/test_confine.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The description the publisher gives a vregion's domain (``Mercador
#: vregion <name>``, docs/publisher.md): how Keystone's own database says
#: a domain is a vregion's when the publisher's store cannot be read.
DOMAIN_MARK = "Mercador vregion "


@dataclass(frozen=True)
class Confinement:
    """One vregion as the catalog needs it."""

    vregion: str
    domain_id: str
    region: str
    service_types: frozenset[str]


def index_vregions(records: Iterable[Mapping[str, Any]]) -> dict[str, Confinement]:
    """Vregions by domain id, from the publisher store's records
    (``mercador.Store.vregions()``). A vregion without a domain (a draft
    never published) confines nothing; a published or withdrawn one (its
    subscriptions keep running after a withdrawal) confines its domain."""
    index: dict[str, Confinement] = {}
    for record in records:
        domain_id = record.get("domain_id")
        if not domain_id:
            continue
        index[str(domain_id)] = Confinement(
            vregion=str(record["name"]),
            domain_id=str(domain_id),
            region=str(record["region"]),
            service_types=frozenset(str(t) for t in record["service_types"]),
        )
    return index


def _endpoint_region(endpoint: Mapping[str, Any]) -> Any:
    # Keystone's v3 catalog entries carry both region_id and region.
    return endpoint.get("region_id", endpoint.get("region"))


def confine(catalog: Iterable[Mapping[str, Any]], confinement: Confinement) -> list[dict[str, Any]]:
    """The services of ``catalog`` whose type the vregion exposes, with
    their endpoints in the vregion's region only; a service left with no
    endpoint is dropped. The same choice as the publisher makes for a
    subscription's services (``publisher/access.rs``)."""
    confined = []
    for service in catalog:
        if service.get("type") not in confinement.service_types:
            continue
        endpoints = [dict(e) for e in service.get("endpoints", []) if _endpoint_region(e) == confinement.region]
        if endpoints:
            confined.append({**service, "endpoints": endpoints})
    return confined


def is_marked(description: str | None) -> bool:
    """Whether a domain's description says Mercador made it for a vregion."""
    return bool(description) and str(description).startswith(DOMAIN_MARK)
