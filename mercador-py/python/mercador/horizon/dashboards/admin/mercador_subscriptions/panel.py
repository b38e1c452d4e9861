"""Partners' subscriptions to this cloud's vregions (B's admins only)."""

from django.utils.translation import gettext_lazy as _
import horizon


class Subscriptions(horizon.Panel):
    name = _("Subscriptions")
    slug = "mercador_subscriptions"
    permissions = ("openstack.roles.admin", "openstack.services.mercador-publisher")
