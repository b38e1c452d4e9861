"""Views of the Publishers panel."""

from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api
from mercador.horizon.dashboards.admin.modal import HelpModalFormView
from mercador.horizon.dashboards.admin.mercador_publishers import forms as pub_forms
from mercador.horizon.dashboards.admin.mercador_publishers import tables as pub_tables


class IndexView(tables.DataTableView):
    table_class = pub_tables.PublishersTable
    template_name = "mercador/table.html"
    page_title = _("Publishers")

    def get_data(self):
        try:
            return [dict(p) for p in api.subscriber(self.request).publishers()]
        except api.mercador.MercadorError as err:
            exceptions.handle(self.request, str(api.service_error("list publishers", err)))
            return []


class DiscoverView(tables.DataTableView):
    table_class = pub_tables.OffersTable
    template_name = "mercador/table.html"
    page_title = _("Offers of the registered publishers")

    def get_data(self):
        self._notes = []
        try:
            found = api.subscriber(self.request).discover()
        except api.mercador.MercadorError as err:
            exceptions.handle(self.request, str(api.service_error("discover", err)))
            return []
        for failure in found.get("errors") or []:
            self._notes.append(f"{failure.get('publisher')}: {failure.get('message') or failure.get('code')}")
        return [dict(o) for o in found.get("offers") or []]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["notes"] = getattr(self, "_notes", [])
        return context


class RegisterView(HelpModalFormView):
    form_class = pub_forms.RegisterPublisherForm
    form_id = "register_publisher_form"
    modal_id = "register_publisher_modal"
    modal_header = _("Register Publisher")
    page_title = _("Register Publisher")
    submit_label = _("Register")
    submit_url = reverse_lazy("horizon:admin:mercador_publishers:register")
    success_url = reverse_lazy("horizon:admin:mercador_publishers:index")
    help_text = _(
        "A publisher's admin onboards this cloud as a partner and hands over an application credential: "
        "register it here, then discover its offers."
    )


class SubscribeView(HelpModalFormView):
    form_class = pub_forms.SubscribeForm
    form_id = "subscribe_form"
    modal_id = "subscribe_modal"
    modal_header = _("Subscribe")
    page_title = _("Subscribe to a vregion")
    submit_label = _("Subscribe")
    success_url = reverse_lazy("horizon:admin:mercador_bindings:index")

    def get_initial(self):
        return {"publisher": self.kwargs["publisher"], "vregion": self.kwargs["vregion"]}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["submit_url"] = reverse(
            "horizon:admin:mercador_publishers:subscribe", args=[self.kwargs["publisher"], self.kwargs["vregion"]]
        )
        context["help_text"] = _("Subscribing binds vregion %(v)s of %(p)s as a region of this cloud.") % {
            "v": self.kwargs["vregion"],
            "p": self.kwargs["publisher"],
        }
        return context
