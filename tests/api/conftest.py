import pytest
from django.test import Client

from portal.api.services import api_token_create
from portal.models import Role

from ..factories import (
    MembershipFactory,
    SubscriptionFactory,
    UserFactory,
    product,
    users_with_licenses,
)


class ApiClient:
    """A JSON client for one tenant, authenticated with a real token of a real membership."""

    def __init__(self, tenant, token: str, user):
        self.tenant = tenant
        self.token = token
        self.user = user
        self.client = Client(headers={"Authorization": f"Bearer {token}"})

    def url(self, path: str) -> str:
        return f"/api/v1/tenants/{self.tenant.slug}/{path}"

    def get(self, path, **params):
        return self.client.get(self.url(path), params)

    def post(self, path, body, **headers):
        return self.client.post(
            self.url(path), body, content_type="application/json", headers=headers
        )


@pytest.fixture
def api_for(db):
    """api_for(tenant, role, scopes=...) -> ApiClient acting as a new admin of that tenant,
    with a token of those scopes (every scope the role allows when not named)."""

    def make(tenant, role=Role.GLOBAL_ADMIN, *, scopes=None):
        user = UserFactory()
        membership = MembershipFactory(user=user, tenant=tenant, role=role)
        _token, raw = api_token_create(membership=membership, name="tests", scopes=scopes)
        return ApiClient(tenant, raw, user)

    return make


@pytest.fixture
def api(tenant, api_for):
    return api_for(tenant)


@pytest.fixture
def e4(tenant):
    """An Office 365 E4 of 12 licenses, 10 of them assigned."""
    e4 = SubscriptionFactory(tenant=tenant, product=product("O365_E4"), quantity=12)
    users_with_licenses(e4, 10)
    return e4
