"""Settings of the plugin's unit tests: Horizon's own test settings plus
what the plugin's enabled/ files and settings snippet add."""

from openstack_dashboard import enabled as _dashboard_enabled
from openstack_dashboard.test.settings import *  # noqa: F403
from openstack_dashboard.utils import settings as _settings_utils

from mercador.horizon import enabled as _mercador_enabled

# Horizon's enabled/ files and ours, applied as Horizon does at start.
_apps: list = []
_settings_utils.update_dashboards([_dashboard_enabled, _mercador_enabled], HORIZON_CONFIG, _apps)  # noqa: F405
INSTALLED_APPS = list(INSTALLED_APPS) + [a for a in _apps if a not in INSTALLED_APPS]  # noqa: F405
AUTHENTICATION_URLS = ["mercador.horizon.urls", "openstack_auth.urls"]
MIDDLEWARE = tuple(MIDDLEWARE) + ("mercador.horizon.middleware.VregionMiddleware",)  # noqa: F405
ROOT_URLCONF = "mercador.horizon.test.urls"
