"""Forms of the Publishers panel."""

from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages

from mercador.horizon.api import mercador as api


class RegisterPublisherForm(forms.SelfHandlingForm):
    name = forms.SlugField(max_length=64, label=_("Name"), help_text=_("This cloud's name for the publisher."))
    keystone_url = forms.URLField(label=_("Keystone URL"), help_text=_("The publisher's Keystone (identity v3)."))
    application_credential_id = forms.CharField(max_length=255, label=_("Application credential ID"))
    application_credential_secret = forms.CharField(
        max_length=255,
        label=_("Application credential secret"),
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Handed over by the publisher's admin; stored sealed, never shown again."),
    )
    exchange_url = forms.URLField(
        required=False, label=_("Exchange API URL"), help_text=_("Optional: else found in the publisher's catalog.")
    )

    def handle(self, request, data):
        try:
            api.subscriber(request).register_publisher(
                data["name"],
                keystone_url=data["keystone_url"],
                application_credential_id=data["application_credential_id"],
                application_credential_secret=data["application_credential_secret"],
                exchange_url=data["exchange_url"] or None,
            )
        except api.mercador.MercadorError as err:
            exceptions.handle(request, str(api.service_error("register publisher " + data["name"], err)))
            return False
        messages.success(request, _('Registered publisher "%s".') % data["name"])
        return True


class SubscribeForm(forms.SelfHandlingForm):
    publisher = forms.CharField(widget=forms.HiddenInput())
    vregion = forms.CharField(widget=forms.HiddenInput())
    alias = forms.SlugField(
        max_length=64,
        label=_("Alias"),
        help_text=_("The region's name on this cloud: users pick it in their region menu."),
    )

    def handle(self, request, data):
        try:
            binding = api.subscriber(request).bind(data["publisher"], data["vregion"], alias=data["alias"])
        except api.mercador.MercadorError as err:
            exceptions.handle(
                request, str(api.service_error(f"subscribe {data['publisher']}/{data['vregion']} as {data['alias']}", err))
            )
            return False
        messages.success(
            request,
            _('Subscribed %(vregion)s of %(publisher)s as region "%(alias)s" (%(state)s).')
            % {"vregion": data["vregion"], "publisher": data["publisher"], "alias": binding["alias"], "state": binding["state"]},
        )
        return True
