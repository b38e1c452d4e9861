"""The Subscriptions table: list, revoke."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api


class RevokeSubscription(tables.DeleteAction):
    name = "revoke"
    help_text = _(
        "The partner's users can no longer log in to the vregion (its K2K trust is removed); "
        "the resources they made there are not deleted."
    )

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Revoke Subscription", "Revoke Subscriptions", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Revoked Subscription", "Revoked Subscriptions", count)

    def allowed(self, request, datum=None):
        return datum is None or datum.get("state") not in ("revoked", "cancelled")

    def delete(self, request, obj_id):
        try:
            api.publisher_admin(request).revoke_subscription(obj_id)
        except api.mercador.MercadorError as err:
            exceptions.handle(request, api.service_error("revoke subscription " + obj_id, err))
            raise


class SubscriptionsTable(tables.DataTable):
    id = tables.Column("id", verbose_name=_("ID"))
    partner = tables.Column("partner", verbose_name=_("Partner"))
    vregion = tables.Column("vregion", verbose_name=_("VRegion"))
    state = tables.Column("state", verbose_name=_("State"))
    step = tables.Column("step", verbose_name=_("Step"), empty_value="-")
    error = tables.Column("error", verbose_name=_("Last error"), empty_value="-")
    entity_id = tables.Column("entity_id", verbose_name=_("Partner's IdP"))
    created = tables.Column("created_at", verbose_name=_("Created"))

    def get_object_id(self, datum):
        return datum["id"]

    class Meta:
        name = "subscriptions"
        verbose_name = _("Subscriptions")
        table_actions = (RevokeSubscription,)
        row_actions = (RevokeSubscription,)
