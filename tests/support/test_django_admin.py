"""The Django admin is registered read-only for the main models."""

import pytest
from django.contrib import admin
from django.urls import reverse

from billing.models import Subscription
from licensing.models import DirectoryUser
from portal.models import AuditEvent, Tenant
from upgrades.models import UpgradeRun

from ..factories import DirectoryUserFactory, SubscriptionFactory
from .conftest import place, upgrade_tenant

pytestmark = pytest.mark.django_db

MAIN_MODELS = [Tenant, AuditEvent, Subscription, DirectoryUser, UpgradeRun]


def _url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("model", MAIN_MODELS)
def test_staff_can_browse_the_main_models(support, model, tenant):
    run = place(upgrade_tenant(users=1))
    obj = {
        Tenant: tenant,
        AuditEvent: AuditEvent.objects.first(),
        Subscription: SubscriptionFactory(tenant=tenant),
        DirectoryUser: DirectoryUserFactory(tenant=tenant),
        UpgradeRun: run,
    }[model]

    assert support.client.get(_url(model, "changelist")).status_code == 200
    assert support.client.get(_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", MAIN_MODELS)
def test_nothing_can_be_added_changed_or_deleted(support, model):
    model_admin = admin.site._registry[model]
    request = type("Request", (), {"user": support.user})()

    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert support.client.get(_url(model, "add")).status_code == 403


def test_a_change_post_is_refused(support, tenant):
    response = support.client.post(_url(Tenant, "change", tenant.pk), {"name": "Renamed"})

    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.name != "Renamed"


def test_a_tenant_admin_cannot_enter_the_django_admin(admin_for, tenant):
    client, _user = admin_for(tenant)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
