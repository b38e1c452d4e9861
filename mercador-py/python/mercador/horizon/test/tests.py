"""Unit tests of the region switch's error paths, on Horizon's test helpers.

The switch itself (a K2K login into a real vregion) is tested in a real
browser against the testbed (tests/browser); here the refusals: every one
is a Horizon message and a redirect, never an error page, and the session
is left as it was.
"""

from __future__ import annotations

from unittest import mock

from django.contrib.messages import get_messages
from django.test import RequestFactory, SimpleTestCase
from django.urls import reverse
from openstack_dashboard.test import helpers

import mercador
from mercador.horizon import middleware, views
from mercador.horizon.test.panels import PanelsHiddenFromUsersTests, SubscriberPanelsTests  # noqa: F401
from mercador.horizon.test.publisher_panels import (  # noqa: F401
    PublisherPanelsHiddenFromUsersTests,
    PublisherPanelsHiddenTests,
    PublisherPanelsTests,
)
from mercador.horizon.api import mercador as api

SP = {"id": "mercador-RegionTwo", "auth_url": "http://b.example/v3", "sp_url": "http://b.example/ecp"}


def _messages(response):
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


class SwitchErrorPathsTests(helpers.TestCase):
    def _switch(self, region: str):
        url = reverse("switch_services_region", args=[region]) + "?next=/project/"
        return self.client.get(url)

    def _assert_refused(self, response, *words: str) -> None:
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["location"], "/project/")
        errors = [text for level, text in _messages(response) if level == "error"]
        self.assertEqual(len(errors), 1, _messages(response))
        for word in words:
            self.assertIn(word, errors[0])
        self.assertNotIn(views.STATE, self.client.session)
        self.assertNotIn(views.HOME, self.client.session)

    @mock.patch.object(api.Home, "cloud")
    @mock.patch.object(api, "service_provider_of", return_value=SP)
    @mock.patch.object(api, "open_vregion")
    def test_a_refused_vregion_is_a_message(self, open_vregion, _sp, _cloud) -> None:
        open_vregion.side_effect = api.VregionRefused(
            "Region RegionTwo cannot be opened: it has no project matching your project 'demo'."
        )
        self._assert_refused(self._switch("RegionTwo"), "RegionTwo", "no project")

    @mock.patch.object(api.Home, "cloud")
    @mock.patch.object(api, "service_provider_of")
    def test_a_revoked_publisher_is_a_message(self, service_provider_of, _cloud) -> None:
        service_provider_of.side_effect = mercador.AuthenticationFailed("the service provider refused the assertion")
        self._assert_refused(self._switch("RegionTwo"), "RegionTwo", "refused", "revoked")

    @mock.patch.object(api.Home, "cloud")
    def test_an_unreachable_home_keystone_is_a_message(self, cloud) -> None:
        cloud.side_effect = mercador.Unavailable("Keystone at http://a.example/v3 does not answer")
        self._assert_refused(self._switch("RegionTwo"), "does not answer", "try again later")

    @mock.patch.object(api.Home, "cloud")
    @mock.patch.object(api, "service_provider_of", return_value=SP)
    @mock.patch.object(api, "open_vregion", side_effect=KeyError("token"))
    def test_an_unexpected_error_is_a_message_not_an_error_page(self, _open, _sp, _cloud) -> None:
        self._assert_refused(self._switch("RegionTwo"), "internal error", "KeyError")

    @mock.patch.object(api.Home, "cloud")
    def test_a_region_she_does_not_have_is_ignored(self, cloud) -> None:
        response = self._switch("Nowhere")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["location"], "/project/")
        cloud.assert_not_called()
        self.assertEqual(_messages(response), [])

    @mock.patch.object(api.Home, "cloud")
    @mock.patch.object(api, "service_provider_of", return_value=None)
    def test_a_home_region_is_openstack_auths_switch(self, _sp, _cloud) -> None:
        response = self._switch("RegionTwo")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.client.session["services_region"], "RegionTwo")
        self.assertEqual(response.cookies["services_region"].value, "RegionTwo")
        self.assertNotIn(views.STATE, self.client.session)

    def test_an_off_site_next_is_not_followed(self) -> None:
        response = self.client.get(reverse("switch_services_region", args=["Nowhere"]) + "?next=http://evil.example/")
        self.assertEqual(response.status_code, 302)
        self.assertNotIn("evil.example", response["location"])


class ApiTests(SimpleTestCase):
    def test_the_project_named_like_hers_comes_first(self) -> None:
        projects = [
            {"id": "3", "name": "acme-demo"},
            {"id": "2", "name": "demo@dev"},
            {"id": "1", "name": "demo"},
            {"id": "4", "name": "other"},
        ]
        self.assertEqual([p["id"] for p in api.project_candidates(projects, "demo")], ["1", "2", "3"])
        self.assertEqual(api.project_candidates(projects, "nothing"), [])
        self.assertEqual(api.project_candidates(projects, None), [])

    def test_the_remote_region_is_the_one_of_the_aliased_urls(self) -> None:
        home = [{"type": "image", "endpoints": [{"region_id": "lisbon", "url": "http://b:9292/"}]}]
        remote = [
            {"type": "identity", "endpoints": [{"region_id": "RegionTwo", "url": "http://b:5000/v3"}]},
            {"type": "image", "endpoints": [{"region_id": "RegionTwo", "url": "http://b:9292"}]},
            {"type": "image", "endpoints": [{"region_id": "RegionThree", "url": "http://c:9292"}]},
        ]
        urls = api.alias_urls(home, "lisbon")
        self.assertEqual(urls, {"http://b:9292"})
        self.assertEqual(api.remote_region_of(remote, urls), "RegionTwo")
        # No URL matches: the only region of a confined catalog, else none.
        self.assertEqual(api.remote_region_of(remote[:2], set()), "RegionTwo")
        self.assertIsNone(api.remote_region_of(remote, set()))

    def test_a_refusal_names_the_region_and_what_to_do(self) -> None:
        err = api.refusal("lisbon", mercador.NotFound("no service provider mercador-lisbon"))
        self.assertIn("lisbon", str(err))
        self.assertIn("log in again", str(err))

    def test_a_vregions_repr_has_no_token(self) -> None:
        v = api.Vregion("lisbon", "mercador-lisbon", "RegionTwo", "http://b/v3", {"token": {}}, "secret-token-id")
        self.assertNotIn("secret-token-id", repr(v))


class _User:
    is_authenticated = True

    def __init__(self, user_id: str) -> None:
        self.id = user_id


class MiddlewareTests(SimpleTestCase):
    def _run(self, user, session):
        request = RequestFactory().get("/")
        request.user = user
        request.session = session
        middleware.VregionMiddleware(lambda r: r)(request)
        return request

    def test_a_session_of_another_user_forgets_the_vregion(self) -> None:
        session = {views.STATE: {"user_id": "b-user", "home_regions": ["RegionOne"]}, views.HOME: {"x": 1}}
        self._run(_User("a-user"), session)
        self.assertEqual(session, {})

    def test_in_a_vregion_the_menu_lists_the_home_regions(self) -> None:
        from openstack_auth.user import User

        user = User(id="b-user", service_catalog=[], services_region="lisbon")
        session = {views.STATE: {"user_id": "b-user", "home_regions": ["RegionOne", "lisbon"]}}
        request = self._run(user, session)
        self.assertEqual(request.user.available_services_regions, ["RegionOne", "lisbon"])
        self.assertEqual(request.user.services_region, "lisbon")
        self.assertIn(views.STATE, session)
