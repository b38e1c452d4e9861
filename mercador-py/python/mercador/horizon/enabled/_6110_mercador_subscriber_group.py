# The panel group of the subscriber's panels (A's admins), in the Admin dashboard.
PANEL_GROUP = "mercador_subscriber"
PANEL_GROUP_NAME = "Mercador (subscriber)"
PANEL_GROUP_DASHBOARD = "admin"

# Mercador's errors are recoverable: horizon.exceptions.handle shows their
# message (which never holds a secret) instead of an error page.
import mercador  # noqa: E402

ADD_EXCEPTIONS = {"recoverable": (mercador.MercadorError,)}
