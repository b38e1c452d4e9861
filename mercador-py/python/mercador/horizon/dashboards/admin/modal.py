"""The panels' modal form view: Mercador's form template, with a line of help above the form."""

from horizon import forms


class HelpModalFormView(forms.ModalFormView):
    """A ModalFormView on ``mercador/form.html`` that shows ``help_text`` (``_form.html``)."""

    template_name = "mercador/form.html"
    help_text = None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.help_text is not None:
            context["help_text"] = self.help_text
        return context
