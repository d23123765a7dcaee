import dataclasses

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from portal.models import Role, Tenant


@pytest.fixture
def demo_tenant(db) -> Tenant:
    """A demo tenant seeded by the demo code itself (Adatum: E4 by card, an unpaid invoice),
    grown to 45 users so that moving them takes several 20-user steps."""
    from upgrades.demo import DEMO_TENANTS, _seed_tenant

    spec = next(t for t in DEMO_TENANTS if t.slug == "adatum")
    spec = dataclasses.replace(
        spec,
        users=45,
        plans=[{"product": "O365_E4", "quantity": 45, "assigned": 45}],
        addons=[("PHONE_SYSTEM", 10, 10)],
    )
    return _seed_tenant(spec, make_password("pw"))


@pytest.fixture
def demo_admin(demo_tenant):
    """The demo tenant's own Global admin, signed in."""
    from django.contrib.auth import get_user_model

    from upgrades.demo import demo_login

    client = Client()
    client.force_login(
        get_user_model().objects.get(username=demo_login(demo_tenant.slug, Role.GLOBAL_ADMIN))
    )
    return client
