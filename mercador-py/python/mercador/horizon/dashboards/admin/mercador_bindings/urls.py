from django.urls import re_path

from mercador.horizon.dashboards.admin.mercador_bindings import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^(?P<alias>[^/]+)/$", views.DetailView.as_view(), name="detail"),
]
