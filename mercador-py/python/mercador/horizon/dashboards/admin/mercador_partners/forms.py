"""Forms of the Partners panel."""

from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms

from mercador.horizon.api import mercador as api


def credential_page(request, onboarded):
    """The one page that shows the partner's application-credential secret:
    rendered straight from the service's answer (never stored in the session,
    a message or a log), not cached by the browser."""
    partner = onboarded["partner"]
    response = render(
        request,
        "mercador/onboarded.html",
        {
            "page_title": _("Partner %s onboarded") % partner["name"],
            "warning": _(
                "Hand this application credential to the partner's admins now, over a safe channel: "
                "its secret is shown this once and never again (the publisher keeps no copy)."
            ),
            "partner": partner["name"],
            "auth_url": onboarded["auth_url"],
            "credential_id": onboarded["application_credential_id"],
            "credential_secret": onboarded["application_credential_secret"],
            "index_url": reverse("horizon:admin:mercador_partners:index"),
        },
    )
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class OnboardPartnerForm(forms.SelfHandlingForm):
    name = forms.SlugField(
        max_length=64, label=_("Name"), help_text=_("The partner (a subscriber cloud), e.g. cloud-a.")
    )
    description = forms.CharField(max_length=1024, required=False, label=_("Description"))

    def handle(self, request, data):
        try:
            onboarded = api.publisher_admin(request).onboard_partner(data["name"], description=data["description"])
        except api.mercador.MercadorError as err:
            exceptions.handle(request, api.service_error("onboard partner " + data["name"], err))
            return False
        # An HttpResponse from handle() is the view's answer (horizon.forms.ModalFormView.form_valid).
        return credential_page(request, onboarded)
