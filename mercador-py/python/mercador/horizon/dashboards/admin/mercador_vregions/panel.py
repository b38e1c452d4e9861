"""VRegions offered by this cloud (B's admins only)."""

from django.utils.translation import gettext_lazy as _
import horizon


class VRegions(horizon.Panel):
    name = _("VRegions")
    slug = "mercador_vregions"
    permissions = ("openstack.roles.admin", "openstack.services.mercador-publisher")
