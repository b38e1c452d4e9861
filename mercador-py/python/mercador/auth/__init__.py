"""A keystoneauth1 plugin: a vregion region of one's cloud, reached by K2K.

Registered as ``mercador-k2k`` (entry point group ``keystoneauth1.plugin``).
The plugin logs in to the home Keystone with the cloud's own credentials
(password, application credential or token: the usual options), gets a
token of the service provider's Keystone through Mercador's Rust K2K
client (``mercador._native``), and presents that token's catalog with the
vregion's region of B renamed to the alias it has on the home cloud. So,
with ``clouds.yaml``::

    clouds:
      mycloud:
        auth: {auth_url: ..., username: alice, password: ..., project_name: demo, ...}
        region_name: RegionOne
        regions:
        - RegionOne
        - name: lisbon-b
          values:
            auth_type: mercador-k2k
            auth:
              mercador_service_provider: mercador-lisbon-b
              mercador_region_alias: lisbon-b
              mercador_remote_region: RegionTwo

``openstack --os-cloud mycloud --os-region-name lisbon-b token issue`` and
``openstack.connect(cloud="mycloud", region_name="lisbon-b")`` work in the
vregion: openstacksdk and the openstack CLI merge a region's ``values``
into the cloud before loading the plugin. ``mercador --os-cloud mycloud
clouds-yaml --write`` (the Rust CLI) writes these entries. The plugin's own options are prefixed ``mercador-`` (CLI
flags ``--os-mercador-*``), so they never clash with the openstack CLI's
``--os-service-provider`` and friends.
"""

from __future__ import annotations

import threading
from typing import Any

from keystoneauth1 import access, loading
from keystoneauth1.identity import base as identity_base
from keystoneauth1.loading import opts

import mercador

# The home cloud's settings the plugin passes on to mercador.Cloud.from_auth.
HOME_KEYS = (
    "auth_url",
    "username",
    "user_id",
    "password",
    "user_domain_name",
    "user_domain_id",
    "project_name",
    "project_id",
    "project_domain_name",
    "project_domain_id",
    "domain_name",
    "domain_id",
    "system_scope",
    "application_credential_id",
    "application_credential_name",
    "application_credential_secret",
)

_lock = threading.Lock()
_sessions: dict[tuple[Any, ...], mercador.ServiceProviderSession] = {}


def _sp_session(home: dict[str, str], sp: str, scope: dict[str, str]) -> mercador.ServiceProviderSession:
    """One native session per home login, service provider and scope, for the
    whole process (so plugin instances share the token cache)."""
    key = (tuple(sorted(home.items())), sp, tuple(sorted(scope.items())))
    with _lock:
        session = _sessions.get(key)
    if session is None:
        cloud = mercador.Cloud.from_auth(home)
        session = cloud.k2k(sp, **scope)
        with _lock:
            session = _sessions.setdefault(key, session)
    return session


def present_catalog(catalog: list[dict[str, Any]], remote_region: str | None, alias: str) -> list[dict[str, Any]]:
    """B's catalog with the vregion's region (``remote_region``; every region
    when ``None``) named ``alias``; endpoints of B's other regions left out."""
    shown = []
    for service in catalog:
        endpoints = []
        for endpoint in service.get("endpoints", []):
            region = endpoint.get("region_id") or endpoint.get("region")
            if remote_region is not None and region != remote_region:
                continue
            endpoint = dict(endpoint, region_id=alias, region=alias)
            endpoints.append(endpoint)
        if endpoints:
            shown.append(dict(service, endpoints=endpoints))
    return shown


class MercadorK2K(identity_base.BaseIdentityPlugin):
    """A token of a K2K service provider, its catalog under the alias."""

    def __init__(
        self,
        auth_url: str,
        mercador_service_provider: str,
        mercador_region_alias: str | None = None,
        mercador_remote_region: str | None = None,
        mercador_project_id: str | None = None,
        mercador_project_name: str | None = None,
        mercador_project_domain_id: str | None = None,
        mercador_project_domain_name: str | None = None,
        **home: Any,
    ) -> None:
        super().__init__(auth_url=auth_url, reauthenticate=True)
        self._home = {k: str(v) for k, v in home.items() if k in HOME_KEYS and v not in (None, "")}
        self._home["auth_url"] = auth_url
        self.service_provider = mercador_service_provider
        prefix = "mercador-"
        default_alias = sp[len(prefix) :] if (sp := mercador_service_provider).startswith(prefix) else sp
        self.region_alias = mercador_region_alias or default_alias
        self.remote_region = mercador_remote_region or None
        scope = {
            "project_id": mercador_project_id,
            "project_name": mercador_project_name,
            "project_domain_id": mercador_project_domain_id,
            "project_domain_name": mercador_project_domain_name,
        }
        self._scope = {k: v for k, v in scope.items() if v}

    def _session(self) -> mercador.ServiceProviderSession:
        return _sp_session(self._home, self.service_provider, self._scope)

    def get_auth_ref(self, session: Any, **kwargs: Any) -> access.AccessInfoV3:
        token = self._session().token()
        body = token.body()
        body["token"]["catalog"] = present_catalog(body["token"].get("catalog", []), self.remote_region, self.region_alias)
        return access.AccessInfoV3(body, auth_token=token.id)

    def invalidate(self) -> bool:
        try:
            self._session().invalidate()
        except mercador.MercadorError:
            pass
        return super().invalidate()

    def __repr__(self) -> str:
        return (
            f"MercadorK2K(auth_url={self.auth_url!r}, service_provider={self.service_provider!r}, "
            f"region_alias={self.region_alias!r}, remote_region={self.remote_region!r})"
        )


class MercadorK2KLoader(loading.BaseIdentityLoader[MercadorK2K]):
    """Loader of ``mercador-k2k``: the home cloud's usual options plus the
    ``mercador-*`` ones.

    The home login is a password or an application credential. There is no
    ``token`` option: the openstack CLI (osc_lib's
    ``check_valid_authentication_options``) demands a token from every
    plugin that has one. For the same reason, through the openstack CLI the
    home login needs a user name or id (the plugin has ``password``);
    openstacksdk has no such check.
    """

    @property
    def plugin_class(self) -> type[MercadorK2K]:
        return MercadorK2K

    def get_options(self) -> list[opts.Opt]:
        options = super().get_options()
        options.extend(
            [
                opts.Opt("user-id", help="User's user ID (home cloud)"),
                opts.Opt("username", help="User's username (home cloud)"),
                opts.Opt("user-domain-id", help="User's domain ID"),
                opts.Opt("user-domain-name", help="User's domain name"),
                opts.Opt("password", secret=True, help="User's password (home cloud)"),
                opts.Opt("project-id", help="Home project ID"),
                opts.Opt("project-name", help="Home project name"),
                opts.Opt("project-domain-id", help="Home project's domain ID"),
                opts.Opt("project-domain-name", help="Home project's domain name"),
                opts.Opt("domain-id", help="Home domain ID"),
                opts.Opt("domain-name", help="Home domain name"),
                opts.Opt("system-scope", help="Home system scope"),
                opts.Opt("application-credential-id", help="Home application credential ID"),
                opts.Opt("application-credential-name", help="Home application credential name"),
                opts.Opt("application-credential-secret", secret=True, help="Home application credential secret"),
                opts.Opt(
                    "mercador-service-provider",
                    required=True,
                    help="The home Keystone's service provider of the vregion (mercador-<alias>)",
                ),
                opts.Opt("mercador-region-alias", help="The vregion's region name on the home cloud"),
                opts.Opt("mercador-remote-region", help="The vregion's region on the service provider"),
                opts.Opt("mercador-project-id", help="Project on the service provider (default: found)"),
                opts.Opt("mercador-project-name", help="Project name on the service provider"),
                opts.Opt("mercador-project-domain-id", help="Its domain ID"),
                opts.Opt("mercador-project-domain-name", help="Its domain name"),
            ]
        )
        return options

    def load_from_options(self, **kwargs: Any) -> MercadorK2K:
        return MercadorK2K(**{k: v for k, v in kwargs.items() if v is not None})


__all__ = ["MercadorK2K", "MercadorK2KLoader", "present_catalog"]
