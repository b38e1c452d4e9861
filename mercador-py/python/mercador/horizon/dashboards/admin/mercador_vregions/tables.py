"""The VRegions table: create, publish, withdraw, delete."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api


class CreateVRegion(tables.LinkAction):
    name = "create"
    verbose_name = _("Create VRegion")
    url = "horizon:admin:mercador_vregions:create"
    icon = "plus"


class CreateFromYaml(tables.LinkAction):
    name = "create_yaml"
    verbose_name = _("Create from YAML")
    url = "horizon:admin:mercador_vregions:create_yaml"
    icon = "upload"


class PublishVRegion(tables.BatchAction):
    name = "publish"
    icon = "cloud-upload"

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Publish VRegion", "Publish VRegions", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Published VRegion", "Published VRegions", count)

    def allowed(self, request, datum=None):
        return datum is None or datum.get("state") != "published"

    def action(self, request, obj_id):
        try:
            api.publisher_admin(request).publish_vregion(obj_id)
        except api.mercador.MercadorError as err:
            exceptions.handle(request, api.service_error("publish vregion " + obj_id, err))
            raise


class WithdrawVRegion(tables.BatchAction):
    name = "withdraw"
    icon = "eye-slash"
    help_text = _("Partners can no longer subscribe to it; existing subscriptions stay.")

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Withdraw VRegion", "Withdraw VRegions", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Withdrew VRegion", "Withdrew VRegions", count)

    def allowed(self, request, datum=None):
        return datum is None or datum.get("state") == "published"

    def action(self, request, obj_id):
        try:
            api.publisher_admin(request).withdraw_vregion(obj_id)
        except api.mercador.MercadorError as err:
            exceptions.handle(request, api.service_error("withdraw vregion " + obj_id, err))
            raise


class DeleteVRegion(tables.DeleteAction):
    help_text = _("Refused while subscriptions hold it: revoke them first (Subscriptions).")

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Delete VRegion", "Delete VRegions", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Deleted VRegion", "Deleted VRegions", count)

    def delete(self, request, obj_id):
        try:
            api.publisher_admin(request).delete_vregion(obj_id)
        except api.mercador.MercadorError as err:
            exceptions.handle(request, api.service_error("delete vregion " + obj_id, err))
            raise


def _list(key):
    return lambda datum: ", ".join(datum.get(key) or []) or "-"


class VRegionsTable(tables.DataTable):
    name = tables.Column("name", verbose_name=_("Name"))
    description = tables.Column("description", verbose_name=_("Description"), empty_value="-")
    region = tables.Column("region", verbose_name=_("Region"))
    state = tables.Column("state", verbose_name=_("State"))
    services = tables.Column(_list("service_types"), verbose_name=_("Services"))
    roles = tables.Column(_list("roles"), verbose_name=_("Roles"))
    partners = tables.Column(_list("partners"), verbose_name=_("Partners"))
    places = tables.Column(
        lambda d: f"{d.get('places_taken', 0)}/{d.get('max_subscriptions', '?')}", verbose_name=_("Places taken")
    )
    domain = tables.Column("domain_id", verbose_name=_("Domain"), empty_value="-")

    def get_object_id(self, datum):
        return datum["name"]

    class Meta:
        name = "vregions"
        verbose_name = _("VRegions")
        table_actions = (CreateVRegion, CreateFromYaml, PublishVRegion, WithdrawVRegion, DeleteVRegion)
        row_actions = (PublishVRegion, WithdrawVRegion, DeleteVRegion)
