from django.urls import re_path

from mercador.horizon.dashboards.admin.mercador_subscriptions import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
]
