# Horizon's local settings for the Mercador testbed: real OpenStack Dashboards
# next to Keystone A (and, with the same settings, next to Keystone B for the
# publisher's panels), on loopback, so that tests can look at what A's users see
# (the region menu, the keystone-provider menu) and use Horizon's own K2K switch.
#
# testbed/testbed.sh links this file into the Horizon venv as
# openstack_dashboard/local/local_settings.py and passes the values that
# depend on the state dir and the ports as environment variables (uwsgi --env):
#   MERCADOR_HORIZON_KEYSTONE_URL    Keystone A's (or B's) v3 URL
#   MERCADOR_HORIZON_SECRET_KEY_FILE Django's SECRET_KEY (random, made once per
#                                    state dir, mode 600)
#   MERCADOR_HORIZON_STATE           a directory for the session files
#   MERCADOR_HORIZON_STATIC_ROOT     the collected and offline-compressed static
#                                    files (made once, when the venv is installed)
#   MERCADOR_HORIZON_LOG             the log file
#   MERCADOR_HORIZON_IDP_ID, _NAME   Keystone A's own entry in the keystone-provider
#                                    menu (HORIZON_KEYSTONE_PROVIDER_IDP_ID in the env file)
#   MERCADOR_HORIZON_HOME_REGION     A's region (KEYSTONE_A_REGION), where a login starts
#                                    (B's region for Horizon B)
#   MERCADOR_HORIZON_SESSION_COOKIE  the session cookie's name (apart per Horizon)
#   MERCADOR_HORIZON_BRANDING        the site's name in the header
import os


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: start Horizon with testbed/testbed.sh")
    return value


DEBUG = False
# Plain http on 127.0.0.1 (the testbed's only address).
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

with open(_env("MERCADOR_HORIZON_SECRET_KEY_FILE"), encoding="utf-8") as _f:
    SECRET_KEY = _f.read().strip()

WEBROOT = "/"
OPENSTACK_KEYSTONE_URL = _env("MERCADOR_HORIZON_KEYSTONE_URL")
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"
OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = False
OPENSTACK_ENDPOINT_TYPE = "publicURL"

# Sessions in files of the state dir: no memcached, and the uwsgi workers share
# them. (Signed-cookie sessions would not hold a K2K session's tokens.)
SESSION_ENGINE = "django.contrib.sessions.backends.file"
# Two Horizons on 127.0.0.1 (A's and B's): browsers share cookies across ports, so each
# names its session cookie apart (one browser can be logged in to both).
SESSION_COOKIE_NAME = _env("MERCADOR_HORIZON_SESSION_COOKIE")
SESSION_FILE_PATH = os.path.join(_env("MERCADOR_HORIZON_STATE"), "sessions")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Static files were collected and compressed once (`collectstatic`, `compress`
# when the venv was installed); uwsgi serves them from here, nothing is
# compressed at run time.
STATIC_ROOT = _env("MERCADOR_HORIZON_STATIC_ROOT")
COMPRESS_OFFLINE = True
COMPRESS_ENABLED = True

# Password login against Keystone A only; no WebSSO.
WEBSSO_ENABLED = False

# Horizon's keystone-provider menu: the token's service providers (the ones
# Mercador creates on A, mercador-<alias>) plus A itself under this name. The
# switch (/auth/switch_keystone_provider/<id>/) is a K2K login into that provider.
KEYSTONE_PROVIDER_IDP_NAME = _env("MERCADOR_HORIZON_IDP_NAME")
KEYSTONE_PROVIDER_IDP_ID = _env("MERCADOR_HORIZON_IDP_ID")

# A login starts in A's own region, never in a vregion's (a region of A's catalog too, whose
# endpoints are the publisher's): Mercador's plugin switches into a vregion by K2K when the user
# picks it in the region menu.
DEFAULT_SERVICE_REGIONS = {"*": _env("MERCADOR_HORIZON_HOME_REGION")}

# Horizon shows the panels of the services in the catalog only. The testbed has
# no compute, so the Project dashboard (Horizon's usual landing page) has no
# panel and answers 403; land on Identity -> Projects instead, after the login
# and after a keystone-provider switch alike.
LOGIN_REDIRECT_URL = WEBROOT + "identity/"

SITE_BRANDING = _env("MERCADOR_HORIZON_BRANDING")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "file": {
            "level": "INFO",
            "class": "logging.FileHandler",
            "filename": _env("MERCADOR_HORIZON_LOG"),
            "formatter": "plain",
        },
    },
    "loggers": {
        # No DEBUG anywhere: keystoneauth and openstack_auth would log tokens.
        "": {"handlers": ["file"], "level": "INFO"},
        "django.db.backends": {"handlers": ["file"], "level": "WARNING", "propagate": False},
        "keystoneauth": {"handlers": ["file"], "level": "WARNING", "propagate": False},
        "keystoneclient": {"handlers": ["file"], "level": "WARNING", "propagate": False},
    },
}
