"""Horizon's test URLs with the plugin's in front (as AUTHENTICATION_URLS does)."""

from django.urls import include, re_path
from openstack_dashboard.test import urls as dashboard_test_urls

urlpatterns = [re_path(r"^auth/", include("mercador.horizon.urls"))] + list(dashboard_test_urls.urlpatterns)
