"""The Keystone catalog driver ``mercador``: Keystone's own SQL driver
(``keystone.catalog.backends.sql.Catalog``) whose catalog, for a token
scoped to a project of a vregion's domain, holds only the vregion's
service types in the vregion's region. Every other catalog is the SQL
driver's, unchanged. Deployment (docs/catalog-plugin.md)::

    pip install mercador-<version>-cp311-abi3-*.whl   # into Keystone's venv
    # keystone.conf
    [catalog]
    driver = mercador
    [mercador]
    store_url = postgres://user:password@host:5432/publisher   # the publisher's [database] url

The vregions come from the publisher's store (``mercador.Store``, read
only, in-process), read by a thread of each Keystone process every
``refresh_interval`` seconds (:mod:`mercador.keystone.source`).

Failures:

- the store unreachable (no successful read for ``max_staleness`` s): a
  project whose domain this process has seen as a vregion's, or whose
  domain carries the publisher's description ``Mercador vregion <name>``
  in Keystone's own database, gets an empty catalog, with one log line
  per token; everyone else gets the full catalog;
- any other failure of this module while confining: the same rule (empty
  for a vregion's project, full otherwise), with one log line.

Keystone's own failures (its database) propagate as with the SQL driver.
The catalog only says where services are: a token is still accepted by
any service that trusts Keystone B; what a vregion's users may do there
is the services' policy (and the vregion's roles).
"""

from __future__ import annotations

import logging
from typing import Any

from keystone.catalog.backends import sql  # type: ignore[import-untyped]
from keystone.common import provider_api  # type: ignore[import-untyped]
import keystone.conf  # type: ignore[import-untyped]
from oslo_config import cfg  # type: ignore[import-untyped]
from oslo_log import log  # type: ignore[import-untyped]

from mercador.keystone.confine import confine, is_marked
from mercador.keystone.source import Loader, VRegionSource

CONF = keystone.conf.CONF
LOG = log.getLogger(__name__)
PROVIDERS = provider_api.ProviderAPIs

GROUP = "mercador"
OPTS = [
    cfg.StrOpt(
        "store_url",
        secret=True,
        help="The publisher's store ([database] url of `mercador serve publisher`): "
        "postgres://user:password@host:port/db or sqlite:///path.db. Read only.",
    ),
    cfg.FloatOpt(
        "refresh_interval",
        default=2.0,
        min=0.2,
        help="Seconds between two reads of the vregions: the delay before a publish, "
        "a change or a withdrawal shows in catalogs.",
    ),
    cfg.FloatOpt(
        "max_staleness",
        default=10.0,
        min=1.0,
        help="Seconds after the last successful read during which the vregions read then still "
        "hold; past that, vregion tokens get an empty catalog (fail closed).",
    ),
    cfg.FloatOpt(
        "startup_wait",
        default=5.0,
        min=0.0,
        help="Seconds the first catalog of a process waits for the first read of the store.",
    ),
]


def _store_loader(url: str) -> Loader:
    import mercador  # noqa: PLC0415 - imported in the process that uses it (after fork)

    store = mercador.Store.connect(url)

    def load() -> Any:
        return store.vregions()

    # The store object lives as long as the loader (see VRegionSource._keep).
    load.store = store  # type: ignore[attr-defined]
    return load


def _no_store() -> Loader:
    raise RuntimeError("[mercador] store_url is not set in keystone.conf")


class Catalog(sql.Catalog):  # type: ignore[misc]
    """Keystone's SQL catalog driver, confining vregion tokens."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        CONF.register_opts(OPTS, group=GROUP)
        conf = CONF[GROUP]
        url = conf.store_url
        if not url:
            LOG.error(
                "mercador: [mercador] store_url is not set in keystone.conf; tokens of vregion projects "
                "get an empty catalog until it is"
            )
        # Keystone turns [cache] on by default for request-local caching, with the no-op backend
        # dogpile.cache.null: only another backend keeps computed catalogs across requests.
        if CONF.cache.enabled and CONF.catalog.caching and CONF.cache.backend != "dogpile.cache.null":
            LOG.warning(
                "mercador: Keystone caches computed catalogs ([cache] backend %s, [catalog] caching): a "
                "vregion's change shows after up to %s s more ([catalog] cache_time, else [cache] "
                "expiration_time); set [catalog] caching = false for the %.1f s bound",
                CONF.cache.backend,
                CONF.catalog.cache_time or CONF.cache.expiration_time,
                conf.refresh_interval,
            )
        self.source = VRegionSource(
            (lambda: _store_loader(url)) if url else _no_store,
            refresh_interval=conf.refresh_interval,
            max_staleness=conf.max_staleness,
            startup_wait=conf.startup_wait,
            log=LOG,
        )

    def get_v3_catalog(self, user_id: str, project_id: str | None) -> list[dict[str, Any]]:
        catalog: list[dict[str, Any]] = super().get_v3_catalog(user_id, project_id)
        if not project_id:
            return catalog  # domain-scoped and system tokens: unchanged
        domain_id = PROVIDERS.resource_api.get_project(project_id)["domain_id"]
        try:
            return self._confined(project_id, domain_id, catalog)
        except Exception as e:  # noqa: BLE001 - a failure of ours never breaks a token outside a vregion
            if self._in_vregion_domain(domain_id, self.source.known_domains()):
                LOG.error(
                    "mercador: empty catalog for a token of project %s (vregion domain %s): %s: %s",
                    project_id,
                    domain_id,
                    type(e).__name__,
                    e,
                )
                return []
            LOG.error("mercador: full catalog for project %s after an error: %s: %s", project_id, type(e).__name__, e)
            return catalog

    def _confined(self, project_id: str, domain_id: str, catalog: list[dict[str, Any]]) -> list[dict[str, Any]]:
        snap = self.source.snapshot()
        if snap.current:
            confinement = snap.index.get(domain_id)
            return catalog if confinement is None else confine(catalog, confinement)
        if self._in_vregion_domain(domain_id, snap.known_domains):
            LOG.error(
                "mercador: empty catalog for a token of project %s: its domain %s is a vregion's and the "
                "publisher's store is not current: %s",
                project_id,
                domain_id,
                snap.reason,
            )
            return []
        return catalog

    @staticmethod
    def _in_vregion_domain(domain_id: str, known: frozenset[str]) -> bool:
        if domain_id in known:
            return True
        return is_marked(PROVIDERS.resource_api.get_domain(domain_id).get("description"))
