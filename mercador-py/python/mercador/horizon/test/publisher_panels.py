"""Unit tests of the publisher's panels (B's admins): a service error is a
message on the page, never an error page; a bad spec is refused by the form
before any call; the partner's credential secret is shown on one uncached
page and nowhere else (no message, no session). The panels against the real
publisher service are in tests/browser."""

from __future__ import annotations

from unittest import mock

from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openstack_dashboard.test import helpers

import mercador
from mercador.horizon.api import mercador as api
from mercador.horizon.dashboards.admin.mercador_vregions import forms as vregion_forms


def _messages(response):
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def _errors(response):
    return [text for level, text in _messages(response) if level == "error"]


PUBLISHER_SERVICE = {
    "type": "mercador-publisher",
    "name": "mercador-publisher",
    "endpoints_links": [],
    "endpoints": [
        {"region": "RegionOne", "region_id": "RegionOne", "interface": "public", "id": "p1", "url": "http://b.example:9100/v1/admin"}
    ],
}

VREGION = {
    "id": "v1", "name": "lisbon", "description": "d", "region": "RegionTwo", "state": "draft",
    "service_types": ["identity", "image"], "roles": ["member"], "partners": ["cloud-a"],
    "places_taken": 0, "max_subscriptions": 1, "domain_id": None,
}

SECRET = "app-cred-s3cret-0123456789abcdef"
ONBOARDED = {
    "partner": {"id": "p1", "name": "cloud-a", "description": "", "state": "active", "project_id": "pr1",
                "created_at": "2026-12-07T00:00:00Z"},
    "auth_url": "http://b.example/v3",
    "application_credential_id": "cred-42",
    "application_credential_secret": SECRET,
}

GOOD_FORM = {
    "name": "lisbon", "description": "", "region": "RegionTwo", "service_types": "identity, image",
    "roles": "member, reader", "max_subscriptions": "1", "partners": "cloud-a", "image_ids": "img-1",
    "metadata": "country=PT\ntier = III\n", "publish": "on",
}


class PublisherPanelsTests(helpers.BaseAdminViewTests):
    def _setup_test_data(self):
        super()._setup_test_data()
        # The publisher service in the catalog (it registers itself in B's).
        self.service_catalog = list(self.service_catalog) + [PUBLISHER_SERVICE]

    # ---- vregions

    @mock.patch.object(api, "publisher_admin")
    def test_vregions_listed(self, admin) -> None:
        admin.return_value.vregions.return_value = [VREGION]
        response = self.client.get(reverse("horizon:admin:mercador_vregions:index"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "lisbon")
        self.assertContains(response, "identity, image")
        self.assertContains(response, "0/1")

    @mock.patch.object(api, "publisher_admin")
    def test_an_unreachable_publisher_is_a_message(self, admin) -> None:
        admin.return_value.vregions.side_effect = mercador.Unavailable("GET http://b/v1/admin/vregions: connection refused")
        response = self.client.get(reverse("horizon:admin:mercador_vregions:index"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(_errors(response)), 1, _messages(response))
        self.assertIn("Could not list vregions", _errors(response)[0])
        self.assertIn("connection refused", _errors(response)[0])

    @mock.patch.object(api, "publisher_admin")
    def test_the_form_makes_the_spec_and_publishes(self, admin) -> None:
        response = self.client.post(reverse("horizon:admin:mercador_vregions:create"), GOOD_FORM)
        self.assertEqual(response.status_code, 302, _messages(response))
        admin.return_value.create_vregion.assert_called_once_with(
            {
                "name": "lisbon", "description": "", "region": "RegionTwo", "service_types": ["identity", "image"],
                "roles": ["member", "reader"], "max_subscriptions": 1, "partners": ["cloud-a"],
                "metadata": {"country": "PT", "tier": "III"},
                "visibility": {"images": {"mode": "listed", "ids": ["img-1"]}},
            }
        )
        admin.return_value.publish_vregion.assert_called_once_with("lisbon")

    @mock.patch.object(api, "publisher_admin")
    def test_a_refused_create_keeps_the_form(self, admin) -> None:
        admin.return_value.create_vregion.side_effect = mercador.InvalidInput("service type 'compute' is not in region RegionTwo")
        response = self.client.post(reverse("horizon:admin:mercador_vregions:create"), GOOD_FORM)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Could not create vregion lisbon", " ".join(_errors(response)))
        self.assertIn("compute", " ".join(_errors(response)))
        admin.return_value.publish_vregion.assert_not_called()

    @mock.patch.object(api, "publisher_admin")
    def test_created_but_not_published_says_so(self, admin) -> None:
        admin.return_value.publish_vregion.side_effect = mercador.Conflict("domain mercador-lisbon exists")
        response = self.client.post(reverse("horizon:admin:mercador_vregions:create"), GOOD_FORM)
        self.assertEqual(response.status_code, 302)
        self.assertIn(("success", 'Created vregion "lisbon".'), _messages(response))
        self.assertIn("Could not publish vregion lisbon", " ".join(_errors(response)))

    @mock.patch.object(api, "publisher_admin")
    def test_a_bad_metadata_line_is_refused_by_the_form(self, admin) -> None:
        response = self.client.post(
            reverse("horizon:admin:mercador_vregions:create"), {**GOOD_FORM, "metadata": "country PT"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("not key=value", str(response.context["form"].errors["metadata"]))
        admin.return_value.create_vregion.assert_not_called()

    @mock.patch.object(api, "publisher_admin")
    def test_a_yaml_file_is_the_spec(self, admin) -> None:
        upload = SimpleUploadedFile("lisbon.yaml", b"name: lisbon\nregion: RegionTwo\nservice_types: [image]\n")
        response = self.client.post(reverse("horizon:admin:mercador_vregions:create_yaml"), {"spec_file": upload})
        self.assertEqual(response.status_code, 302, _messages(response))
        admin.return_value.create_vregion.assert_called_once_with(
            {"name": "lisbon", "region": "RegionTwo", "service_types": ["image"]}
        )
        admin.return_value.publish_vregion.assert_not_called()  # the checkbox unticked

    @mock.patch.object(api, "publisher_admin")
    def test_bad_yaml_is_refused_by_the_form(self, admin) -> None:
        for text, words in (
            ("name: [lisbon\n", "not valid YAML"),
            ("- lisbon\n", "must be a mapping"),
            ("region: RegionTwo\n", "has no name"),
            ("", "Upload a YAML file"),
        ):
            response = self.client.post(reverse("horizon:admin:mercador_vregions:create_yaml"), {"spec_text": text})
            self.assertEqual(response.status_code, 200, text)
            self.assertIn(words, str(response.context["form"].non_field_errors()), text)
        admin.return_value.create_vregion.assert_not_called()

    @mock.patch.object(api, "publisher_admin")
    def test_a_service_refusal_of_a_yaml_spec_is_a_message(self, admin) -> None:
        admin.return_value.create_vregion.side_effect = mercador.InvalidInput("unknown field `colour`")
        response = self.client.post(
            reverse("horizon:admin:mercador_vregions:create_yaml"), {"spec_text": "name: x\ncolour: red\n"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("unknown field `colour`", " ".join(_errors(response)))

    @mock.patch.object(api, "publisher_admin")
    def test_failed_publish_withdraw_delete_are_messages(self, admin) -> None:
        admin.return_value.vregions.return_value = [VREGION, {**VREGION, "name": "porto", "state": "published"}]
        admin.return_value.publish_vregion.side_effect = mercador.Conflict("region RegionTwo has no image endpoint")
        admin.return_value.withdraw_vregion.side_effect = mercador.Unavailable("the publisher does not answer")
        admin.return_value.delete_vregion.side_effect = mercador.Conflict("1 subscription holds it")
        url = reverse("horizon:admin:mercador_vregions:index")
        for action, name, words in (
            ("publish", "lisbon", "no image endpoint"),
            ("withdraw", "porto", "does not answer"),
            ("delete", "lisbon", "1 subscription holds it"),
        ):
            response = self.client.post(url, {"action": f"vregions__{action}__{name}"})
            self.assertEqual(response.status_code, 302, action)
            self.assertTrue(any(words in e and name in e for e in _errors(response)), (action, _messages(response)))

    def test_spec_from_yaml_takes_the_demo_file(self) -> None:
        from pathlib import Path

        demo = Path(__file__).resolve().parents[5] / "examples/demo/lisbon.yaml"
        if demo.is_file():  # in a checkout (the installed wheel has no examples/)
            spec = vregion_forms.spec_from_yaml(demo.read_text())
            self.assertEqual(spec["name"], "lisbon")
        spec = vregion_forms.spec_from_yaml("name: a\nmetadata: {tier: 'III'}\n")
        self.assertEqual(spec, {"name": "a", "metadata": {"tier": "III"}})

    # ---- partners

    @mock.patch.object(api, "publisher_admin")
    def test_onboarding_shows_the_secret_once_uncached_and_nowhere_else(self, admin) -> None:
        admin.return_value.onboard_partner.return_value = ONBOARDED
        with self.assertLogs(level="DEBUG") as logs:
            import logging

            logging.getLogger("mercador.horizon.test").debug("start")  # assertLogs needs one line
            response = self.client.post(
                reverse("horizon:admin:mercador_partners:onboard"), {"name": "cloud-a", "description": "A"}
            )
        self.assertEqual(response.status_code, 200)
        admin.return_value.onboard_partner.assert_called_once_with("cloud-a", description="A")
        self.assertContains(response, SECRET, count=1)
        self.assertContains(response, "cred-42")
        self.assertContains(response, "never again")
        self.assertEqual(response["Cache-Control"], "no-store")
        self.assertFalse(any(SECRET in line for line in logs.output))
        self.assertFalse(any(SECRET in text for _level, text in _messages(response)))
        self.assertFalse(any(SECRET in str(v) for v in self.client.session.values()))
        # The partners list afterwards: never the secret.
        admin.return_value.partners.return_value = [ONBOARDED["partner"]]
        response = self.client.get(reverse("horizon:admin:mercador_partners:index"))
        self.assertContains(response, "cloud-a")
        self.assertNotContains(response, SECRET)

    @mock.patch.object(api, "publisher_admin")
    def test_a_refused_onboarding_keeps_the_form(self, admin) -> None:
        admin.return_value.onboard_partner.side_effect = mercador.Conflict("partner cloud-a exists")
        response = self.client.post(reverse("horizon:admin:mercador_partners:onboard"), {"name": "cloud-a"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("Could not onboard partner cloud-a: partner cloud-a exists", " ".join(_errors(response)))

    @mock.patch.object(api, "publisher_admin")
    def test_a_failed_partner_removal_is_a_message(self, admin) -> None:
        admin.return_value.partners.return_value = [ONBOARDED["partner"]]
        admin.return_value.remove_partner.side_effect = mercador.Conflict("it holds 1 subscription")
        response = self.client.post(
            reverse("horizon:admin:mercador_partners:index"), {"action": "partners__delete__cloud-a"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertTrue(any("holds 1 subscription" in e for e in _errors(response)), _messages(response))

    # ---- subscriptions

    @mock.patch.object(api, "publisher_admin")
    def test_subscriptions_listed_and_a_failed_revoke_is_a_message(self, admin) -> None:
        admin.return_value.subscriptions.return_value = [
            {"id": "s-1", "partner": "cloud-a", "vregion": "lisbon", "state": "active", "step": None, "error": None,
             "entity_id": "http://a.example/v3/OS-FEDERATION/saml2/idp", "created_at": "2026-12-07T00:00:00Z"}
        ]
        response = self.client.get(reverse("horizon:admin:mercador_subscriptions:index"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "s-1")
        self.assertContains(response, "saml2/idp")
        admin.return_value.revoke_subscription.side_effect = mercador.Unavailable("Keystone B does not answer")
        response = self.client.post(
            reverse("horizon:admin:mercador_subscriptions:index"), {"action": "subscriptions__revoke__s-1"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertTrue(any("s-1" in e and "does not answer" in e for e in _errors(response)), _messages(response))

    @mock.patch.object(api, "publisher_admin")
    def test_a_failed_subscription_list_is_a_message(self, admin) -> None:
        admin.return_value.subscriptions.side_effect = mercador.Forbidden("admin role required")
        response = self.client.get(reverse("horizon:admin:mercador_subscriptions:index"))
        self.assertEqual(response.status_code, 200)
        self.assertIn("Could not list subscriptions: admin role required", " ".join(_errors(response)))


class PublisherPanelsHiddenTests(helpers.BaseAdminViewTests):
    def test_no_publisher_service_no_panel(self) -> None:
        # An admin of a cloud without the publisher service (no mercador-publisher in the catalog).
        response = self.client.get(reverse("horizon:admin:mercador_vregions:index"))
        self.assertNotEqual(response.status_code, 200)


class PublisherPanelsHiddenFromUsersTests(helpers.TestCase):
    def test_a_member_gets_no_publisher_panel(self) -> None:
        for panel in ("mercador_vregions", "mercador_partners", "mercador_subscriptions"):
            response = self.client.get(reverse(f"horizon:admin:{panel}:index"))
            self.assertNotEqual(response.status_code, 200, panel)
