"""The Partners table: onboard, remove."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api


class OnboardPartner(tables.LinkAction):
    name = "onboard"
    verbose_name = _("Onboard Partner")
    url = "horizon:admin:mercador_partners:onboard"
    icon = "plus"


class RemovePartner(tables.DeleteAction):
    help_text = _("Its application credential stops working; refused while it holds subscriptions.")

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Remove Partner", "Remove Partners", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Removed Partner", "Removed Partners", count)

    def delete(self, request, obj_id):
        try:
            api.publisher_admin(request).remove_partner(obj_id)
        except api.mercador.MercadorError as err:
            exceptions.handle(request, api.service_error("remove partner " + obj_id, err))
            raise


class PartnersTable(tables.DataTable):
    name = tables.Column("name", verbose_name=_("Name"))
    description = tables.Column("description", verbose_name=_("Description"), empty_value="-")
    state = tables.Column("state", verbose_name=_("State"))
    project = tables.Column("project_id", verbose_name=_("Project"), empty_value="-")
    created = tables.Column("created_at", verbose_name=_("Onboarded"))

    def get_object_id(self, datum):
        return datum["name"]

    class Meta:
        name = "partners"
        verbose_name = _("Partners")
        table_actions = (OnboardPartner, RemovePartner)
        row_actions = (RemovePartner,)
