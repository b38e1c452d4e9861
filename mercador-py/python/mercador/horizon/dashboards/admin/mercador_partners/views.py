"""Views of the Partners panel."""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from mercador.horizon.api import mercador as api
from mercador.horizon.dashboards.admin.modal import HelpModalFormView
from mercador.horizon.dashboards.admin.mercador_partners import forms as partner_forms
from mercador.horizon.dashboards.admin.mercador_partners import tables as partner_tables


class IndexView(tables.DataTableView):
    table_class = partner_tables.PartnersTable
    template_name = "mercador/table.html"
    page_title = _("Partners")

    def get_data(self):
        try:
            return [dict(p) for p in api.publisher_admin(self.request).partners()]
        except api.mercador.MercadorError as err:
            exceptions.handle(self.request, api.service_error("list partners", err))
            return []


class OnboardView(HelpModalFormView):
    form_class = partner_forms.OnboardPartnerForm
    form_id = "onboard_partner_form"
    modal_id = "onboard_partner_modal"
    modal_header = _("Onboard Partner")
    page_title = _("Onboard Partner")
    submit_label = _("Onboard")
    submit_url = reverse_lazy("horizon:admin:mercador_partners:onboard")
    success_url = reverse_lazy("horizon:admin:mercador_partners:index")
    help_text = _(
        "Onboarding makes the partner a project and user of this cloud and an application credential "
        "for its subscriber service; the next page shows the credential's secret, once."
    )
