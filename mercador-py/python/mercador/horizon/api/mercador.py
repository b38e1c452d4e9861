"""Mercador through the ``mercador`` package, with the user's own token.

Like the API modules of manila-ui or octavia-dashboard, this wraps a client
for the views: here the ``mercador`` package (``mercador._native``, the Rust
core) logged in with the user's unscoped token of the home Keystone, scoped
to her current project. Nothing here logs or returns a token in an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mercador
from mercador.auth import present_catalog

SP_PREFIX = "mercador-"


class VregionRefused(Exception):
    """The vregion cannot be opened for this user now; ``str`` is a message
    for her (what failed and what to do), never holding a secret."""


@dataclass(frozen=True)
class Home:
    """The user's home login: the Keystone, her unscoped token and project."""

    auth_url: str
    unscoped_token: str
    project_id: str
    project_name: str | None

    def cloud(self) -> mercador.Cloud:
        return mercador.Cloud.from_auth(
            {"auth_url": self.auth_url, "token": self.unscoped_token, "project_id": self.project_id}
        )


@dataclass(frozen=True)
class Vregion:
    """A K2K token of the vregion, its catalog under the alias."""

    alias: str
    service_provider: str
    remote_region: str
    auth_url: str
    body: dict[str, Any]
    token_id: str

    def __repr__(self) -> str:  # never the token
        return (
            f"Vregion(alias={self.alias!r}, service_provider={self.service_provider!r}, "
            f"remote_region={self.remote_region!r}, auth_url={self.auth_url!r})"
        )


def service_provider_of(cloud: mercador.Cloud, alias: str) -> dict[str, Any] | None:
    """The service provider ``mercador-<alias>`` in the home token, or None
    when the region ``alias`` is not a vregion's."""
    wanted = SP_PREFIX + alias
    for sp in cloud.service_providers():
        if sp.get("id") == wanted:
            return sp
    return None


def _norm(url: str) -> str:
    return url.rstrip("/")


def alias_urls(catalog: list[dict[str, Any]], alias: str) -> set[str]:
    """The URLs of the home catalog's endpoints in region ``alias`` (the
    publisher's URLs the subscriber put there)."""
    urls = set()
    for service in catalog or []:
        for endpoint in service.get("endpoints", []):
            if (endpoint.get("region_id") or endpoint.get("region")) == alias and endpoint.get("url"):
                urls.add(_norm(endpoint["url"]))
    return urls


def remote_region_of(catalog: list[dict[str, Any]], home_urls: set[str]) -> str | None:
    """The vregion's region in the service provider's catalog: the region
    of the endpoints whose URLs the home catalog lists under the alias; when
    none matches, the only region of its non-identity endpoints (a catalog
    confined to the vregion), else None."""
    by_url: set[str] = set()
    regions: set[str] = set()
    for service in catalog or []:
        if service.get("type") == "identity":
            continue
        for endpoint in service.get("endpoints", []):
            region = endpoint.get("region_id") or endpoint.get("region")
            if region is None:
                continue
            regions.add(region)
            if _norm(endpoint.get("url", "")) in home_urls:
                by_url.add(region)
    if len(by_url) == 1:
        return by_url.pop()
    if not by_url and len(regions) == 1:
        return regions.pop()
    return None


def project_candidates(projects: list[dict[str, Any]], home_project: str | None) -> list[dict[str, Any]]:
    """The vregion's projects that match the home project, best first: the
    publisher's mapping names it like the home project, ``<project>@<domain>``
    outside A's default domain, prefixed ``<partner>-`` in a shared vregion
    (docs/publisher.md, "The mapping")."""
    if not home_project:
        return []
    exact = [p for p in projects if p.get("name") == home_project]
    qualified = [p for p in projects if str(p.get("name", "")).startswith(home_project + "@")]
    prefixed = [
        p
        for p in projects
        if p not in exact
        and p not in qualified
        and (str(p.get("name", "")).endswith("-" + home_project) or ("-" + home_project + "@") in str(p.get("name", "")))
    ]
    return exact + qualified + prefixed


def refusal(alias: str, err: mercador.MercadorError) -> VregionRefused:
    if isinstance(err, mercador.AuthenticationFailed | mercador.Forbidden):
        hint = "the publisher refused the login (the subscription may have been revoked); ask your cloud's admins"
    elif isinstance(err, mercador.NotFound):
        hint = "it is no longer offered to you (the binding may have been cancelled): log in again"
    elif isinstance(err, mercador.Unavailable | mercador.Timeout):
        hint = "the publisher's cloud does not answer; try again later"
    else:
        hint = "ask your cloud's admins"
    message = getattr(err, "message", None) or str(err)
    return VregionRefused(f"Region {alias} cannot be opened: {message} ({hint}).")


def open_vregion(
    home: Home, alias: str, home_catalog: list[dict[str, Any]], cloud: mercador.Cloud | None = None
) -> Vregion:
    """A K2K token of the vregion bound as region ``alias``, scoped to its
    project that matches ``home``'s project, with the catalog of its region
    on the service provider renamed ``alias``.

    Raises :class:`VregionRefused` (a message for the user) when the region
    is not a vregion, the service provider refuses, or no project matches.
    ``cloud`` is ``home.cloud()`` when the caller has made it already.
    """
    try:
        cloud = cloud or home.cloud()
        sp = service_provider_of(cloud, alias)
        if sp is None:
            raise VregionRefused(
                f"Region {alias} cannot be opened: your token has no service provider {SP_PREFIX}{alias} "
                "(the binding may have been cancelled; log in again)."
            )
        sp_id = str(sp["id"])
        projects = cloud.k2k(sp_id).projects()
        candidates = project_candidates(projects, home.project_name)
        if not candidates:
            raise VregionRefused(
                f"Region {alias} cannot be opened: it has no project matching your project "
                f"{home.project_name!r} (your role there may not be one the vregion allows); ask your cloud's admins."
            )
        urls = alias_urls(home_catalog, alias)
        for project in candidates:
            session = cloud.k2k(sp_id, project_id=str(project["id"]))
            token = session.token()
            body = token.body()
            catalog = body["token"].get("catalog", [])
            remote = remote_region_of(catalog, urls)
            if remote is None:
                continue
            body["token"]["catalog"] = present_catalog(catalog, remote, alias)
            return Vregion(alias, sp_id, remote, session.auth_url, body, token.id)
        raise VregionRefused(
            f"Region {alias} cannot be opened: the catalog of {sp_id} shows none of the endpoints "
            f"your cloud lists for {alias}; ask your cloud's admins to refresh the binding."
        )
    except mercador.MercadorError as err:
        raise refusal(alias, err) from None


# ------------------------------------------------------------------ the services, for the panels


def home_of_user(user: Any) -> Home:
    """The logged-in user's home login (at home: the session's user)."""
    return Home(user.endpoint, user.unscoped_token, user.project_id, user.project_name)


def subscriber(request: Any) -> mercador.Subscriber:
    """The subscriber service (``mercador-subscriber`` in the home catalog),
    as the logged-in admin of the home cloud."""
    return mercador.Subscriber(home_of_user(request.user).cloud())


def publisher_admin(request: Any) -> mercador.PublisherAdmin:
    """The publisher service's admin face (``mercador-publisher`` in the
    catalog), as the logged-in admin of the publisher's cloud."""
    return mercador.PublisherAdmin(home_of_user(request.user).cloud())


def service_error(what: str, err: mercador.MercadorError) -> str:
    """A message for the admin: what failed and the service's own words
    (Mercador's errors never hold a secret)."""
    message = getattr(err, "message", None) or str(err)
    return f"Could not {what}: {message}"
