"""The region menu's switch, vregions included.

openstack_auth's ``switch_region`` only stores the region in the session:
the token stays the home Keystone's, which a vregion's endpoints (the
publisher's) refuse. This view, at the same URL, does that for the home
regions, and for a vregion's region it logs the user in there by K2K
(:func:`mercador.horizon.api.mercador.open_vregion`), much like
openstack_auth's ``switch_keystone_provider`` does for its own menu, but
scoped to the vregion's project that matches hers and with the vregion's
region shown under the alias. A refusal is a Horizon message on the page
she came from, never an error page.
"""

from __future__ import annotations

import logging
from typing import Any

from django import http as django_http
from django import shortcuts
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.utils import http
import horizon
from keystoneauth1 import access
from keystoneauth1 import exceptions as ks_exceptions
from openstack_auth import user as auth_user
from openstack_auth import utils
from openstack_auth import views as auth_views
from openstack_dashboard.api import base

from mercador.horizon.api import mercador as api

LOG = logging.getLogger(__name__)

#: The session key of the vregion the user is in (no secret in it).
STATE = "mercador_vregion"
#: The session key of her home login while she is in a vregion (holds her
#: home unscoped token, as openstack_auth's own ``unscoped_token`` does).
HOME = "mercador_home"
# What a new login (django.contrib.auth.login flushes the session when the
# user id changes) must not lose: openstack_auth's K2K menu and ours.
PRESERVED = ("keystone_providers", "keystone_provider_id", "k2k_base_unscoped_token", "k2k_auth_url", HOME)
BACKEND = "openstack_auth.backend.KeystoneBackend"


def _redirect_target(request: Any) -> str:
    redirect_to = request.GET.get(auth.REDIRECT_FIELD_NAME, "")
    if not http.url_has_allowed_host_and_scheme(url=redirect_to, allowed_hosts=[request.get_host()]):
        redirect_to = settings.LOGIN_REDIRECT_URL
    return redirect_to


def _still_there(request: Any, redirect_to: str) -> str:
    """``redirect_to`` when the new region has its panel, else the landing
    page (the Images panel of a vregion does not exist at a home without
    Glance: she lands on LOGIN_REDIRECT_URL instead of a 403 page)."""
    best = None
    for dashboard in horizon.get_dashboards():
        for panel in dashboard.get_panels():
            url = panel.get_absolute_url()
            if redirect_to.startswith(url) and (best is None or len(url) > len(best[0])):
                best = (url, dashboard, panel)
    if best is None:
        return redirect_to
    _, dashboard, panel = best
    context = {"request": request}
    # Horizon grants openstack.services.<type> for a service of any region
    # of the catalog; the page needs it in the region she is now in.
    services = [
        p[len("openstack.services.") :] for p in _flat(getattr(panel, "permissions", ())) if p.startswith("openstack.services.")
    ]
    if (
        dashboard.can_access(context)
        and panel.can_access(context)
        and all(base.is_service_enabled(request, s) for s in services)
    ):
        return redirect_to
    return str(settings.LOGIN_REDIRECT_URL)


def _flat(items: Any) -> list[str]:
    if isinstance(items, str):
        return [items]
    return [x for item in items or () for x in _flat(item)]


def _login(request: Any, user: Any) -> None:
    """Makes ``user`` the session's user, keeping the K2K menus' keys."""
    saved = {k: request.session[k] for k in PRESERVED if k in request.session}
    user.backend = BACKEND
    auth.login(request, user)
    auth_user.set_session_from_user(request, user)
    request.session.update(saved)


def _home_of(request: Any) -> api.Home:
    """Her home login: the stored one while in a vregion, else the session's."""
    stored = request.session.get(HOME)
    if stored:
        return api.Home(**stored)
    u = request.user
    return api.Home(u.endpoint, u.unscoped_token, u.project_id, u.project_name)


def _home_regions(request: Any) -> list[str]:
    if request.session.get(STATE):
        return list(request.session[STATE]["home_regions"])
    return list(request.user.available_services_regions)


def _enter(request: Any, region_name: str, home: api.Home, cloud: Any) -> None:
    home_regions = _home_regions(request)
    home_catalog = request.session[STATE]["home_catalog"] if request.session.get(STATE) else request.user.service_catalog
    vregion = api.open_vregion(home, region_name, home_catalog, cloud)
    auth_ref = access.AccessInfoV3(vregion.body, auth_token=vregion.token_id)
    token = auth_user.Token(auth_ref, unscoped_token=home.unscoped_token)
    # The endpoint stays the home Keystone's: the project list and switch of
    # the header are the home ones (a project switch brings her home).
    user = auth_user.create_user_from_token(request, token, home.auth_url, services_region=region_name)
    request.session[HOME] = {
        "auth_url": home.auth_url,
        "unscoped_token": home.unscoped_token,
        "project_id": home.project_id,
        "project_name": home.project_name,
    }
    _login(request, user)
    request.session[STATE] = {
        "alias": region_name,
        "service_provider": vregion.service_provider,
        "remote_region": vregion.remote_region,
        "user_id": user.id,
        "home_regions": home_regions,
        "home_catalog": home_catalog,
    }
    LOG.info("user %s entered vregion %s (%s)", user.id, region_name, vregion.service_provider)
    messages.success(request, f'Switched to region "{region_name}".')


def _go_home(request: Any, region_name: str) -> None:
    home = _home_of(request)
    plugin = utils.get_token_auth_plugin(auth_url=home.auth_url, token=home.unscoped_token, project_id=home.project_id)
    try:
        auth_ref = plugin.get_access(utils.get_session())
    except ks_exceptions.ClientException as err:
        LOG.warning("switch back home failed: %s", type(err).__name__)
        raise api.VregionRefused(
            f"Region {region_name} cannot be opened: your home Keystone refused your token "
            f"({type(err).__name__}); log in again."
        ) from None
    token = auth_user.Token(auth_ref, unscoped_token=home.unscoped_token)
    user = auth_user.create_user_from_token(request, token, home.auth_url, services_region=region_name)
    request.session.pop(STATE, None)
    _login(request, user)
    request.session.pop(HOME, None)
    messages.success(request, f'Switched to region "{region_name}".')


@login_required
def switch_services_region(request: Any, region_name: str) -> django_http.HttpResponse:
    """The region menu's link: a home region, or a vregion's."""
    state = request.session.get(STATE)
    current = state["alias"] if state else None
    if region_name == current:
        return shortcuts.redirect(_redirect_target(request))
    home_regions = _home_regions(request)
    if region_name not in home_regions:
        # As openstack_auth: a region she does not have is ignored.
        return shortcuts.redirect(_redirect_target(request))
    try:
        home = _home_of(request)
        cloud = home.cloud()
        if api.service_provider_of(cloud, region_name) is not None:
            _enter(request, region_name, home, cloud)
        elif state:
            _go_home(request, region_name)
        else:
            return auth_views.switch_region(request, region_name)
    except api.VregionRefused as refused:
        messages.error(request, str(refused))
    except api.mercador.MercadorError as err:
        messages.error(request, str(api.refusal(region_name, err)))
    except Exception as err:  # noqa: BLE001 - the user gets a message, never an error page
        LOG.exception("region switch to %s failed", region_name)
        messages.error(request, f"Region {region_name} cannot be opened: an internal error ({type(err).__name__}).")
    response = shortcuts.redirect(_still_there(request, _redirect_target(request)))
    if not request.session.get(STATE):
        utils.set_response_cookie(response, "services_region", request.user.services_region)
    return response
