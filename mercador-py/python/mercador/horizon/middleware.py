"""Keeps the home regions in the region menu while the user is in a vregion.

In a vregion her token is the service provider's; its catalog (confined to
the vregion, its region renamed to the alias) has one region, so Horizon
would hide the menu. The user object of such a request gets the home
regions as ``available_services_regions`` (the menu, and the regions the
switch accepts). A session whose user is no longer the vregion's (she
switched project, which logs her in at home again) forgets the vregion.
"""

from __future__ import annotations

from typing import Any, Callable

from openstack_auth.user import User

from mercador.horizon.views import HOME, STATE


class VregionUser(User):
    """openstack_auth's user, in a vregion: the menu lists the home regions."""

    class Meta:
        proxy = True
        app_label = "mercador_horizon"

    @property
    def available_services_regions(self) -> list[str]:
        return list(getattr(self, "_mercador_home_regions", None) or super().available_services_regions)


class VregionMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        session = getattr(request, "session", None)
        state = session.get(STATE) if session is not None else None
        if session is not None and state:
            user = request.user
            if getattr(user, "id", None) != state.get("user_id"):
                session.pop(STATE, None)
                session.pop(HOME, None)
            else:
                real = getattr(user, "_wrapped", user)
                real.__class__ = VregionUser
                real._mercador_home_regions = list(state["home_regions"])
        return self.get_response(request)
