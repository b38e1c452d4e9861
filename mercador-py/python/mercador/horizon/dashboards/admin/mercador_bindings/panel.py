"""Bindings: the vregions this cloud subscribed, as its regions (A's admins only)."""

from django.utils.translation import gettext_lazy as _
import horizon


class Bindings(horizon.Panel):
    name = _("Bindings")
    slug = "mercador_bindings"
    permissions = ("openstack.roles.admin", "openstack.services.mercador-subscriber")
