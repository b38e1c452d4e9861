"""Settings of the plugin's unit tests: Horizon's own test settings plus
what the plugin's enabled/ file and settings snippet add."""

from openstack_dashboard.test.settings import *  # noqa: F403

INSTALLED_APPS = list(INSTALLED_APPS) + ["mercador.horizon"]  # noqa: F405
AUTHENTICATION_URLS = ["mercador.horizon.urls", "openstack_auth.urls"]
MIDDLEWARE = tuple(MIDDLEWARE) + ("mercador.horizon.middleware.VregionMiddleware",)  # noqa: F405
ROOT_URLCONF = "mercador.horizon.test.urls"
