import pytest

from portal.models import Role

from .factories import BillingProfileFactory, MembershipFactory, TenantFactory, UserFactory


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in another language leaves it active in the thread (LocaleMiddleware does not
    deactivate it): every test starts and ends in the default language, whatever ran before."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def tenant(db):
    tenant = TenantFactory()
    BillingProfileFactory(tenant=tenant)
    return tenant


@pytest.fixture
def admin_for(db):
    """A signed-in client factory: admin_for(tenant, role) -> (client, user)."""
    from django.test import Client

    def make(tenant, role=Role.GLOBAL_ADMIN):
        user = UserFactory()
        MembershipFactory(user=user, tenant=tenant, role=role)
        client = Client()
        client.force_login(user)
        return client, user

    return make


@pytest.fixture
def support_client(db):
    from django.test import Client

    user = UserFactory(username="support@test", is_staff=True)
    client = Client()
    client.force_login(user)
    return client
