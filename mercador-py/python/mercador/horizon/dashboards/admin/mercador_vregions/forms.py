"""Forms of the VRegions panel: create from fields, or from a YAML file
(the same document as ``mercador vregion create --file``)."""

from __future__ import annotations

from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from horizon import exceptions, forms, messages

from mercador.horizon.api import mercador as api


def _names(text: str) -> list[str]:
    """``a, b c`` -> ``["a", "b", "c"]``."""
    return [part for part in text.replace(",", " ").split() if part]


def parse_metadata(text: str) -> dict[str, str]:
    """``key=value`` lines (blank lines ignored) -> a dict; a line without
    ``=`` or with an empty key is a ValidationError naming it."""
    metadata: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError(
                _("Line %(n)d (%(line)r) is not key=value: write one key=value per line.") % {"n": number, "line": line}
            )
        metadata[key.strip()] = value.strip()
    return metadata


def spec_from_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The vregion spec of the create form's cleaned data."""
    spec: dict[str, Any] = {
        "name": data["name"],
        "description": data.get("description") or "",
        "region": data["region"],
        "service_types": _names(data["service_types"]),
        "roles": _names(data["roles"]),
        "max_subscriptions": data["max_subscriptions"],
        "partners": _names(data.get("partners") or ""),
        "metadata": data.get("metadata") or {},
    }
    images = _names(data.get("image_ids") or "")
    if images:
        spec["visibility"] = {"images": {"mode": "listed", "ids": images}}
    return spec


def spec_from_yaml(text: str) -> dict[str, Any]:
    """The vregion spec of a YAML document; a ValidationError says what is
    wrong (not YAML, not a mapping, no name)."""
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ValidationError(
            _("The file is not valid YAML%(where)s: %(problem)s.")
            % {"where": where, "problem": getattr(err, "problem", None) or err}
        ) from None
    if not isinstance(spec, dict):
        raise ValidationError(
            _("The YAML document must be a mapping (name:, region:, service_types:, ...), not %(kind)s.")
            % {"kind": type(spec).__name__}
        )
    if not spec.get("name"):
        raise ValidationError(_("The vregion spec has no name: add a line name: <vregion>."))
    return spec


def _create(request, spec: dict[str, Any], publish: bool) -> bool:
    admin = api.publisher_admin(request)
    try:
        admin.create_vregion(spec)
    except api.mercador.MercadorError as err:
        exceptions.handle(request, api.service_error(f"create vregion {spec.get('name')}", err))
        return False
    messages.success(request, _('Created vregion "%s".') % spec["name"])
    if publish:
        try:
            admin.publish_vregion(spec["name"])
        except api.mercador.MercadorError as err:
            # Created but not published: the table shows it; publishing again resumes.
            exceptions.handle(request, api.service_error(f"publish vregion {spec['name']}", err))
            return True
        messages.success(request, _('Published vregion "%s".') % spec["name"])
    return True


class CreateVRegionForm(forms.SelfHandlingForm):
    name = forms.SlugField(max_length=64, label=_("Name"))
    description = forms.CharField(max_length=1024, required=False, label=_("Description"))
    region = forms.CharField(max_length=255, label=_("Region"), help_text=_("This cloud's region the vregion lives in."))
    service_types = forms.CharField(
        max_length=1024, label=_("Service types"), help_text=_("Comma-separated, e.g. identity, image.")
    )
    roles = forms.CharField(
        max_length=1024, initial="member, reader", label=_("Roles"),
        help_text=_("The roles partners' users may get there (comma-separated)."),
    )
    max_subscriptions = forms.IntegerField(min_value=1, initial=1, label=_("Places (max subscriptions)"))
    partners = forms.CharField(
        max_length=1024, required=False, label=_("Partners"),
        help_text=_("Comma-separated partner names it is offered to; empty: to every partner."),
    )
    image_ids = forms.CharField(
        max_length=4096, required=False, label=_("Listed images"),
        help_text=_("Comma-separated Glance image ids the vregion's projects see (visibility: listed)."),
    )
    metadata = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label=_("Metadata"),
        help_text=_("One key=value per line (country=PT, tier=III)."),
    )
    publish = forms.BooleanField(required=False, initial=True, label=_("Publish now"))

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["region"].initial = getattr(request.user, "services_region", None)

    def clean_metadata(self):
        return parse_metadata(self.cleaned_data.get("metadata") or "")

    def clean_service_types(self):
        types = _names(self.cleaned_data["service_types"])
        if not types:
            raise ValidationError(_("Give at least one service type."))
        return self.cleaned_data["service_types"]

    def handle(self, request, data):
        return _create(request, spec_from_fields(data), data.get("publish", False))


class CreateFromYamlForm(forms.SelfHandlingForm):
    spec_file = forms.FileField(
        required=False, label=_("YAML file"),
        help_text=_("A vregion spec as for `mercador vregion create --file` (examples/demo/lisbon.yaml)."),
    )
    spec_text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 10}), label=_("or the YAML itself")
    )
    publish = forms.BooleanField(required=False, initial=True, label=_("Publish now"))

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("spec_file")
        if upload is not None:
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError(_("The file is not UTF-8 text: upload the YAML spec.")) from None
        else:
            text = cleaned.get("spec_text") or ""
        if not text.strip():
            raise ValidationError(_("Upload a YAML file or paste the YAML spec."))
        cleaned["spec"] = spec_from_yaml(text)
        return cleaned

    def handle(self, request, data):
        return _create(request, data["spec"], data.get("publish", False))
