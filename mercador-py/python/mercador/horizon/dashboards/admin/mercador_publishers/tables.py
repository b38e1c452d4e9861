"""Tables of the Publishers panel: publishers, and the offers a discovery found."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api


class RegisterPublisher(tables.LinkAction):
    name = "register"
    verbose_name = _("Register Publisher")
    url = "horizon:admin:mercador_publishers:register"
    icon = "plus"


class Discover(tables.LinkAction):
    name = "discover"
    verbose_name = _("Discover Offers")
    url = "horizon:admin:mercador_publishers:discover"
    icon = "search"


class RemovePublisher(tables.DeleteAction):
    @staticmethod
    def action_present(count):
        return ngettext_lazy("Remove Publisher", "Remove Publishers", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Removed Publisher", "Removed Publishers", count)

    def delete(self, request, obj_id):
        try:
            api.subscriber(request).remove_publisher(obj_id)
        except api.mercador.MercadorError as err:
            exceptions.handle(request, str(api.service_error("remove publisher " + obj_id, err)))
            raise


class PublishersTable(tables.DataTable):
    name = tables.Column("name", verbose_name=_("Name"))
    keystone_url = tables.Column("keystone_url", verbose_name=_("Keystone"))
    exchange_url = tables.Column("exchange_url", verbose_name=_("Exchange API"), empty_value=_("(from the catalog)"))
    credential = tables.Column("application_credential_id", verbose_name=_("Application credential"))
    created = tables.Column("created_at", verbose_name=_("Registered"))

    def get_object_id(self, datum):
        return datum["name"]

    class Meta:
        name = "publishers"
        verbose_name = _("Publishers")
        table_actions = (RegisterPublisher, Discover, RemovePublisher)
        row_actions = (RemovePublisher,)


class Subscribe(tables.LinkAction):
    name = "subscribe"
    verbose_name = _("Subscribe")
    icon = "link"

    def get_link_url(self, datum):
        return reverse(
            "horizon:admin:mercador_publishers:subscribe", args=[datum["publisher"], datum["name"]]
        )

    def allowed(self, request, datum=None):
        return datum is None or not datum.get("bound_as")


def _list(key):
    return lambda datum: ", ".join(datum.get(key) or [])


class OffersTable(tables.DataTable):
    publisher = tables.Column("publisher", verbose_name=_("Publisher"))
    name = tables.Column("name", verbose_name=_("VRegion"))
    description = tables.Column("description", verbose_name=_("Description"))
    region = tables.Column("region", verbose_name=_("Publisher's region"))
    services = tables.Column(_list("service_types"), verbose_name=_("Services"))
    roles = tables.Column(_list("roles"), verbose_name=_("Roles"))
    places = tables.Column("places_left", verbose_name=_("Places left"))
    bound_as = tables.Column("bound_as", verbose_name=_("Bound as"), empty_value="-")

    def get_object_id(self, datum):
        return f"{datum['publisher']}/{datum['name']}"

    class Meta:
        name = "offers"
        verbose_name = _("Offers")
        row_actions = (Subscribe,)
