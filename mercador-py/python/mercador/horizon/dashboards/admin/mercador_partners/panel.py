"""Partners of this cloud's publisher service (B's admins only)."""

from django.utils.translation import gettext_lazy as _
import horizon


class Partners(horizon.Panel):
    name = _("Partners")
    slug = "mercador_partners"
    permissions = ("openstack.roles.admin", "openstack.services.mercador-publisher")
