"""Views of the Bindings panel."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables, views

from mercador.horizon.api import mercador as api
from mercador.horizon.dashboards.admin.mercador_bindings import tables as binding_tables


class IndexView(tables.DataTableView):
    table_class = binding_tables.BindingsTable
    template_name = "mercador/table.html"
    page_title = _("Bindings")

    def get_data(self):
        try:
            return [dict(b) for b in api.subscriber(self.request).bindings()]
        except api.mercador.MercadorError as err:
            exceptions.handle(self.request, str(api.service_error("list bindings", err)))
            return []


SHOWN = (
    ("alias", _("Alias (region)")),
    ("publisher", _("Publisher")),
    ("vregion", _("VRegion")),
    ("state", _("State")),
    ("step", _("Step")),
    ("error", _("Last error")),
    ("remote_subscription_id", _("Subscription at the publisher")),
    ("remote_region", _("Publisher's region")),
    ("service_provider", _("Service provider")),
    ("sp_auth_url", _("Service provider auth URL")),
    ("sp_url", _("Service provider SAML URL")),
    ("created_at", _("Created")),
    ("updated_at", _("Updated")),
)


class DetailView(views.HorizonTemplateView):
    template_name = "mercador/detail.html"
    page_title = _("Binding {{ alias }}")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        alias = self.kwargs["alias"]
        try:
            binding = dict(api.subscriber(self.request).binding(alias))
        except api.mercador.MercadorError as err:
            exceptions.handle(
                self.request,
                str(api.service_error("show binding " + alias, err)),
                redirect=reverse("horizon:admin:mercador_bindings:index"),
            )
        fields = [(label, binding.get(key) if binding.get(key) is not None else "-") for key, label in SHOWN]
        endpoints = ", ".join(f"{e['service_type']} {e['interface']} {e['url']}" for e in binding.get("endpoints") or [])
        fields.append((_("Endpoints"), endpoints or "-"))
        context["fields"] = fields
        context["alias"] = alias
        return context
