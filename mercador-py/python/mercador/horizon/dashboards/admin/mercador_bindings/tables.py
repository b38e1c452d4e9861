"""The Bindings table: show, refresh, cancel."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api


class RefreshBinding(tables.BatchAction):
    name = "refresh"
    icon = "refresh"

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Refresh Binding", "Refresh Bindings", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Refreshed Binding", "Refreshed Bindings", count)

    def action(self, request, obj_id):
        try:
            api.subscriber(request).refresh_binding(obj_id)
        except api.mercador.MercadorError as err:
            exceptions.handle(request, str(api.service_error("refresh binding " + obj_id, err)))
            raise


class CancelBinding(tables.DeleteAction):
    name = "cancel"
    help_text = _(
        "The region disappears from this cloud and the publisher ends the subscription; "
        "users' resources in the vregion are not deleted by the cancel."
    )

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Cancel Binding", "Cancel Bindings", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Cancelled Binding", "Cancelled Bindings", count)

    def delete(self, request, obj_id):
        try:
            api.subscriber(request).cancel_binding(obj_id)
        except api.mercador.MercadorError as err:
            exceptions.handle(request, str(api.service_error("cancel binding " + obj_id, err)))
            raise


def _detail_url(datum):
    return reverse("horizon:admin:mercador_bindings:detail", args=[datum["alias"]])


class BindingsTable(tables.DataTable):
    alias = tables.Column("alias", verbose_name=_("Alias (region)"), link=_detail_url)
    publisher = tables.Column("publisher", verbose_name=_("Publisher"))
    vregion = tables.Column("vregion", verbose_name=_("VRegion"))
    remote_region = tables.Column("remote_region", verbose_name=_("Publisher's region"), empty_value="-")
    state = tables.Column("state", verbose_name=_("State"))
    error = tables.Column("error", verbose_name=_("Last error"), empty_value="-")

    def get_object_id(self, datum):
        return datum["alias"]

    class Meta:
        name = "bindings"
        verbose_name = _("Bindings")
        table_actions = (RefreshBinding, CancelBinding)
        row_actions = (RefreshBinding, CancelBinding)
