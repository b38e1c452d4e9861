"""Views of the VRegions panel."""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api
from mercador.horizon.dashboards.admin.modal import HelpModalFormView
from mercador.horizon.dashboards.admin.mercador_vregions import forms as vregion_forms
from mercador.horizon.dashboards.admin.mercador_vregions import tables as vregion_tables


class IndexView(tables.DataTableView):
    table_class = vregion_tables.VRegionsTable
    template_name = "mercador/table.html"
    page_title = _("VRegions")

    def get_data(self):
        try:
            return [dict(v) for v in api.publisher_admin(self.request).vregions()]
        except api.mercador.MercadorError as err:
            exceptions.handle(self.request, api.service_error("list vregions", err))
            return []


class CreateView(HelpModalFormView):
    form_class = vregion_forms.CreateVRegionForm
    form_id = "create_vregion_form"
    modal_id = "create_vregion_modal"
    modal_header = _("Create VRegion")
    page_title = _("Create VRegion")
    submit_label = _("Create")
    submit_url = reverse_lazy("horizon:admin:mercador_vregions:create")
    success_url = reverse_lazy("horizon:admin:mercador_vregions:index")
    help_text = _(
        "A vregion is a Keystone domain in one of this cloud's regions, offered to partners: "
        "which services, which roles their users get, how many subscriptions. "
        "Quotas and other visibility rules: create it from YAML."
    )


class CreateFromYamlView(HelpModalFormView):
    form_class = vregion_forms.CreateFromYamlForm
    form_id = "create_vregion_yaml_form"
    modal_id = "create_vregion_yaml_modal"
    modal_header = _("Create VRegion from YAML")
    page_title = _("Create VRegion from YAML")
    submit_label = _("Create")
    submit_url = reverse_lazy("horizon:admin:mercador_vregions:create_yaml")
    success_url = reverse_lazy("horizon:admin:mercador_vregions:index")
    help_text = _(
        "The spec `mercador vregion create --file` takes: name, description, region, service_types, "
        "roles, quotas, visibility, metadata, max_subscriptions, partners."
    )
