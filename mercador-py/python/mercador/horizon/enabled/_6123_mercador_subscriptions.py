# Subscriptions of partners to this cloud's vregions: list, revoke.
PANEL = "mercador_subscriptions"
PANEL_DASHBOARD = "admin"
PANEL_GROUP = "mercador_publisher"
ADD_PANEL = "mercador.horizon.dashboards.admin.mercador_subscriptions.panel.Subscriptions"
