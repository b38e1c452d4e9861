"""Views of the Subscriptions panel."""

from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api
from mercador.horizon.dashboards.admin.mercador_subscriptions import tables as subscription_tables


class IndexView(tables.DataTableView):
    table_class = subscription_tables.SubscriptionsTable
    template_name = "mercador/table.html"
    page_title = _("Subscriptions")

    def get_data(self):
        try:
            return [dict(s) for s in api.publisher_admin(self.request).subscriptions()]
        except api.mercador.MercadorError as err:
            exceptions.handle(self.request, api.service_error("list subscriptions", err))
            return []
