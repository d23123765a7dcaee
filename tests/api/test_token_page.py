"""API tokens are created and revoked by the admin in the portal."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from portal.models import ApiToken, AuditEvent, Role

pytestmark = pytest.mark.django_db


def _create(client, tenant, name="CI"):
    response = client.post(reverse("api_tokens", args=[tenant.slug]), {"name": name})
    assert response.status_code == 200
    match = re.search(
        r'id="token-value" readonly size="60" value="([^"]+)"', response.content.decode()
    )
    return response, match.group(1) if match else None


def test_an_admin_creates_a_token_that_is_shown_once_and_works(admin_for, tenant):
    client, user = admin_for(tenant, Role.LICENSE_ADMIN)

    response, raw = _create(client, tenant)

    assert raw and raw.startswith("pt_")
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(membership__user=user)
    assert token.name == "CI" and token.membership.tenant == tenant
    assert raw not in client.get(reverse("api_tokens", args=[tenant.slug])).content.decode()
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.get(f"/api/v1/tenants/{tenant.slug}/subscriptions").status_code == 200
    assert AuditEvent.objects.filter(action="api_token.create", actor=user).exists()


def test_a_token_without_a_name_is_refused(admin_for, tenant):
    client, _user = admin_for(tenant)

    response, raw = _create(client, tenant, name="  ")

    assert raw is None
    assert not ApiToken.objects.exists()


def test_an_admin_revokes_their_token_and_it_stops_working(admin_for, tenant):
    client, user = admin_for(tenant)
    _response, raw = _create(client, tenant)
    token = ApiToken.objects.get(membership__user=user)

    response = client.post(reverse("api_token_revoke", args=[tenant.slug, token.pk]))

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == user
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.get(f"/api/v1/tenants/{tenant.slug}/subscriptions").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoke").exists()


def test_an_admin_cannot_revoke_another_admins_token_but_a_global_admin_can(admin_for, tenant):
    owner_client, owner = admin_for(tenant, Role.LICENSE_ADMIN)
    _create(owner_client, tenant)
    token = ApiToken.objects.get(membership__user=owner)
    other_client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    global_client, _ = admin_for(tenant, Role.GLOBAL_ADMIN)
    url = reverse("api_token_revoke", args=[tenant.slug, token.pk])

    other_client.post(url)
    token.refresh_from_db()
    assert token.revoked_at is None
    assert (
        owner.username
        not in other_client.get(reverse("api_tokens", args=[tenant.slug])).content.decode()
    )

    global_client.post(url)
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_another_tenants_token_cannot_be_revoked(admin_for, tenant):
    from ..factories import TenantFactory

    other = TenantFactory()
    owner_client, owner = admin_for(other)
    _create(owner_client, other)
    token = ApiToken.objects.get(membership__user=owner)
    client, _ = admin_for(tenant)

    response = client.post(reverse("api_token_revoke", args=[tenant.slug, token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_nav_links_to_the_token_page(admin_for, tenant):
    client, _ = admin_for(tenant)

    page = client.get(reverse("tenant_home", args=[tenant.slug])).content.decode()

    assert reverse("api_tokens", args=[tenant.slug]) in page
