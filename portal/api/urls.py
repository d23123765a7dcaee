"""/api/: version 1 of the JSON API, and a JSON 404 for every other path under /api/."""

from django.urls import path, re_path, register_converter

from billing import api as billing_api
from licensing import api as licensing_api
from upgrades import api as upgrades_api

from . import views
from .framework import MAX_ID, route


class IdConverter:
    """A positive id that fits a bigint; anything else is not a path of the API."""

    regex = "[1-9][0-9]{0,18}"

    def to_python(self, value):
        number = int(value)
        if number > MAX_ID:
            raise ValueError
        return number

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "api_id")

TENANT = "v1/tenants/<slug:tenant_slug>/"

urlpatterns = [
    path("v1/openapi.json", views.openapi, name="api_openapi"),
    path(
        TENANT + "subscriptions",
        route(get=billing_api.subscription_list),
        name="api_subscriptions",
    ),
    path(
        TENANT + "subscriptions/<api_id:subscription_id>",
        route(get=billing_api.subscription_detail),
        name="api_subscription",
    ),
    path(TENANT + "licenses", route(get=licensing_api.license_list), name="api_licenses"),
    path(
        TENANT + "licenses/assign",
        route(post=licensing_api.license_assign),
        name="api_licenses_assign",
    ),
    path(
        TENANT + "licenses/unassign",
        route(post=licensing_api.license_unassign),
        name="api_licenses_unassign",
    ),
    path(
        TENANT + "licenses/replace",
        route(post=licensing_api.license_replace),
        name="api_licenses_replace",
    ),
    path(
        TENANT + "subscriptions/<api_id:subscription_id>/eligibility",
        route(get=upgrades_api.eligibility),
        name="api_eligibility",
    ),
    path(
        TENANT + "upgrades",
        route(get=upgrades_api.upgrade_list, post=upgrades_api.upgrade_place),
        name="api_upgrades",
    ),
    path(
        TENANT + "upgrades/<api_id:run_id>",
        route(get=upgrades_api.upgrade_status),
        name="api_upgrade",
    ),
    re_path(r"", views.not_found),
]
