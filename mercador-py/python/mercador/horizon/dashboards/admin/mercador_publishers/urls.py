from django.urls import re_path

from mercador.horizon.dashboards.admin.mercador_publishers import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^register/$", views.RegisterView.as_view(), name="register"),
    re_path(r"^discover/$", views.DiscoverView.as_view(), name="discover"),
    re_path(
        r"^subscribe/(?P<publisher>[^/]+)/(?P<vregion>[^/]+)/$", views.SubscribeView.as_view(), name="subscribe"
    ),
]
