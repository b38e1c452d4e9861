"""Publishers registered at the subscriber service (A's admins only)."""

from django.utils.translation import gettext_lazy as _
import horizon


class Publishers(horizon.Panel):
    name = _("Publishers")
    slug = "mercador_publishers"
    permissions = ("openstack.roles.admin", "openstack.services.mercador-subscriber")
