# The panel group of the publisher's panels (B's admins), in the Admin dashboard.
# Shown only where the catalog has the publisher service (mercador-publisher)
# and the user is an admin (each panel's permissions).
PANEL_GROUP = "mercador_publisher"
PANEL_GROUP_NAME = "Mercador (publisher)"
PANEL_GROUP_DASHBOARD = "admin"
