"""Unit tests of the subscriber's panels: a service error is a message on
the page, never an error page, and the credential's secret is never shown.
(The panels against the real services are in tests/browser.)"""

from __future__ import annotations

from unittest import mock

from django.contrib.messages import get_messages
from django.urls import reverse
from openstack_dashboard.test import helpers

import mercador
from mercador.horizon.api import mercador as api


def _errors(response):
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


SUBSCRIBER_SERVICE = {
    "type": "mercador-subscriber",
    "name": "mercador-subscriber",
    "endpoints_links": [],
    "endpoints": [
        {"region": "RegionOne", "region_id": "RegionOne", "interface": "public", "id": "e1", "url": "http://a.example:9000/v1"}
    ],
}


class SubscriberPanelsTests(helpers.BaseAdminViewTests):
    def _setup_test_data(self):
        super()._setup_test_data()
        # The subscriber service in the catalog (it registers itself in A's).
        self.service_catalog = list(self.service_catalog) + [SUBSCRIBER_SERVICE]

    @mock.patch.object(api, "subscriber")
    def test_publishers_listed(self, subscriber) -> None:
        subscriber.return_value.publishers.return_value = [
            {"name": "cirrus", "keystone_url": "http://b/v3", "exchange_url": None,
             "application_credential_id": "cred-1", "created_at": "2026-12-07T00:00:00Z"}
        ]
        response = self.client.get(reverse("horizon:admin:mercador_publishers:index"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "cirrus")
        self.assertContains(response, "cred-1")

    @mock.patch.object(api, "subscriber")
    def test_an_unreachable_service_is_a_message(self, subscriber) -> None:
        subscriber.return_value.publishers.side_effect = mercador.Unavailable("GET http://a/v1/publishers: connection refused")
        response = self.client.get(reverse("horizon:admin:mercador_publishers:index"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(_errors(response)), 1)
        self.assertIn("Could not list publishers", _errors(response)[0])
        self.assertIn("connection refused", _errors(response)[0])

    @mock.patch.object(api, "subscriber")
    def test_a_refused_registration_keeps_the_form_and_not_the_secret(self, subscriber) -> None:
        subscriber.return_value.register_publisher.side_effect = mercador.Conflict("publisher cirrus is already registered")
        secret = "s3cret-never-shown-0123456789"
        response = self.client.post(
            reverse("horizon:admin:mercador_publishers:register"),
            {
                "name": "cirrus",
                "keystone_url": "http://b.example/v3",
                "application_credential_id": "cred-1",
                "application_credential_secret": secret,
                "exchange_url": "",
            },
        )
        self.assertEqual(response.status_code, 200)  # the form again, not a redirect or a 500
        self.assertNotContains(response, secret)
        self.assertIn("already registered", " ".join(_errors(response)))

    @mock.patch.object(api, "subscriber")
    def test_a_bad_alias_is_refused_by_the_form(self, subscriber) -> None:
        response = self.client.post(
            reverse("horizon:admin:mercador_publishers:subscribe", args=["cirrus", "lisbon"]),
            {"publisher": "cirrus", "vregion": "lisbon", "alias": "not a slug!"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertFalse(response.context["form"].is_valid())
        subscriber.return_value.bind.assert_not_called()

    @mock.patch.object(api, "subscriber")
    def test_a_failed_discovery_of_one_publisher_is_shown(self, subscriber) -> None:
        subscriber.return_value.discover.return_value = {
            "offers": [{"publisher": "cirrus", "name": "lisbon", "description": "d", "region": "RegionTwo",
                        "service_types": ["image"], "roles": ["member"], "places_left": 1, "bound_as": None}],
            "errors": [{"publisher": "nimbus", "code": "unavailable", "message": "Keystone does not answer"}],
        }
        response = self.client.get(reverse("horizon:admin:mercador_publishers:discover"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "lisbon")
        self.assertContains(response, "nimbus: Keystone does not answer")

    @mock.patch.object(api, "subscriber")
    def test_a_binding_gone_redirects_with_a_message(self, subscriber) -> None:
        subscriber.return_value.binding.side_effect = mercador.NotFound("no binding lisbon")
        response = self.client.get(reverse("horizon:admin:mercador_bindings:detail", args=["lisbon"]))
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["location"], reverse("horizon:admin:mercador_bindings:index"))

    @mock.patch.object(api, "subscriber")
    def test_a_failed_cancel_is_a_message(self, subscriber) -> None:
        subscriber.return_value.bindings.return_value = [
            {"alias": "lisbon", "publisher": "cirrus", "vregion": "v", "remote_region": "RegionTwo",
             "state": "active", "error": None}
        ]
        subscriber.return_value.cancel_binding.side_effect = mercador.Unavailable("the publisher does not answer")
        response = self.client.post(
            reverse("horizon:admin:mercador_bindings:index"), {"action": "bindings__cancel__lisbon"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertTrue(any("lisbon" in e for e in _errors(response)), _errors(response))


class PanelsHiddenFromUsersTests(helpers.TestCase):
    def test_a_member_gets_no_subscriber_panel(self) -> None:
        response = self.client.get(reverse("horizon:admin:mercador_bindings:index"))
        self.assertNotEqual(response.status_code, 200)
