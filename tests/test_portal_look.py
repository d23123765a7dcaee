"""How the portal's own pages read (issue 15): the admin's role by its name, never its code;
counts through plurals; one date format; state badges."""

import pytest
from django.urls import reverse

from portal.formatting import when_text
from portal.models import Role
from portal.services import notification_create
from portal.templatetags.portal_format import badge

from .factories import MembershipFactory, TenantFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "label"),
    [
        (Role.GLOBAL_ADMIN, "Global admin"),
        (Role.BILLING_ADMIN, "Billing admin"),
        (Role.GLOBAL_READER, "Global reader"),
    ],
)
def test_home_says_the_role_by_its_name(tenant, admin_for, role, label):
    client, _ = admin_for(tenant, role)

    page = client.get(reverse("tenant_home", args=[tenant.slug])).content.decode()

    assert f"Signed in as {label}." in page
    assert str(role.value) not in page


def test_home_names_a_support_engineer_as_such(tenant, support_client):
    page = support_client.get(reverse("tenant_home", args=[tenant.slug])).content.decode()

    assert "Signed in as Support engineer." in page
    assert "Signed in as support." not in page


def test_one_unread_notification_is_said_in_the_singular(tenant, admin_for):
    client, _ = admin_for(tenant)
    note = notification_create(tenant=tenant, message="Hello")

    page = client.get(reverse("notifications", args=[tenant.slug])).content.decode()

    assert "1 unread notification." in page and "1 unread notifications" not in page
    assert when_text(note.created_at) in page


def test_organisation_list_shows_states_as_badges(admin_for, tenant):
    client, user = admin_for(tenant)
    MembershipFactory(user=user, tenant=TenantFactory(), role=Role.BILLING_ADMIN)

    page = client.get(reverse("home")).content.decode()

    assert badge("ready", "Ready") in page
    assert "Billing admin" in page and "billing_admin" not in page
