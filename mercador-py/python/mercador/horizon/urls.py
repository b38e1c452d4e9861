"""URLs put before ``openstack_auth.urls`` (``AUTHENTICATION_URLS``): the
region menu's link, same path and name as openstack_auth's."""

from django.urls import re_path

from mercador.horizon import views

urlpatterns = [
    re_path(
        r"^switch_services_region/(?P<region_name>[^/]+)/$",
        views.switch_services_region,
        name="switch_services_region",
    ),
]
