import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from billing.models import Product, Subscription
from licensing.models import LicenseAssignment
from portal.models import AuditEvent, Role
from portal.services import audit_event_record

from .factories import LicenseFactory, SubscriptionFactory, TenantFactory, product

pytestmark = pytest.mark.django_db


def test_tests_run_on_postgresql():
    assert connection.vendor == "postgresql"


def test_catalog_targets_of_e4_match_the_design():
    e4 = product("O365_E4")
    targets = set(e4.upgrade_paths.values_list("target__code", flat=True))
    assert targets == {"O365_E5", "M365_E5", "M365_E5_NOAC", "O365_E3", "M365_E3"}
    assert not e4.on_sale
    includes = {
        code: set(product(code).includes.values_list("code", flat=True)) for code in targets
    }
    assert includes["O365_E5"] == {"PHONE_SYSTEM", "AUDIO_CONF"}
    assert includes["M365_E5"] == {"PHONE_SYSTEM", "AUDIO_CONF"}
    assert includes["M365_E5_NOAC"] == {"PHONE_SYSTEM"}
    assert includes["O365_E3"] == includes["M365_E3"] == set()
    e4_services = set(e4.services)
    for code in ("O365_E5", "M365_E5", "M365_E5_NOAC"):
        assert e4_services <= set(product(code).services)
    for code in ("O365_E3", "M365_E3"):
        assert not e4_services <= set(product(code).services)


def test_business_plans_are_capped_at_300_seats():
    caps = dict(Product.objects.filter(code__startswith="M365_B").values_list("code", "seat_cap"))
    assert caps == {"M365_BB": 300, "M365_BS": 300, "M365_BP": 300}


def test_every_product_has_a_price_in_every_currency():
    for p in Product.objects.prefetch_related("prices"):
        assert {price.currency for price in p.prices.all()} == {"USD", "EUR", "SEK", "CNY"}, p


def test_database_rejects_a_second_license_for_the_same_user_on_one_subscription():
    license = LicenseFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseAssignment.objects.create(
            tenant=license.tenant,
            user=license.user,
            subscription=license.subscription,
            assigned_at=license.assigned_at,
        )


def test_database_rejects_a_negative_quantity():
    subscription = SubscriptionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.filter(pk=subscription.pk).update(quantity=-1)


def test_database_rejects_an_addon_without_a_base_subscription():
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(product=product("PHONE_SYSTEM"), parent=None)


def test_database_rejects_a_base_subscription_with_a_parent():
    base = SubscriptionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(
            tenant=base.tenant, product=product("O365_E5"), parent=base, is_addon=False
        )


def test_audit_events_cannot_be_changed_even_with_raw_sql():
    event = audit_event_record(tenant=None, actor=None, action="test.event")
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE portal_auditevent SET action = 'x' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_seed_demo_twice_leaves_the_same_data():
    from django.apps import apps
    from django.core.management import call_command

    def counts():
        return {
            m._meta.label: m.objects.count()
            for m in apps.get_models()
            if m._meta.app_label in {"portal", "billing", "licensing", "auth"}
        }

    call_command("seed_demo", password="pw-for-tests", stdout=open("/dev/null", "w"))
    first = counts()
    call_command("seed_demo", password="pw-for-tests", stdout=open("/dev/null", "w"))
    assert counts() == first
    assert first["licensing.DirectoryUser"] > 300
    assert first["portal.Tenant"] >= 8


def test_sign_in_shows_the_admins_tenant_home(client, tenant, admin_for):
    from portal.models import Membership

    from .factories import UserFactory

    user = UserFactory(username="alice@example.test")
    Membership.objects.create(user=user, tenant=tenant, role=Role.GLOBAL_ADMIN)
    response = client.post(
        reverse("login"), {"username": "alice@example.test", "password": "pw"}, follow=True
    )
    assert response.status_code == 200
    assert tenant.name in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("tenant_home", args=[tenant.slug])


def test_wrong_password_shows_an_error_and_no_session(client, tenant):
    response = client.post(reverse("login"), {"username": "nobody", "password": "x"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_pages_require_sign_in(client, tenant):
    response = client.get(reverse("tenant_home", args=[tenant.slug]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_another_tenants_pages_are_404(tenant, admin_for):
    other = TenantFactory()
    client, _ = admin_for(tenant)
    for name in ("tenant_home", "products", "users", "notifications"):
        assert client.get(reverse(name, args=[other.slug])).status_code == 404


def test_support_engineer_sees_every_tenant(support_client, tenant):
    assert support_client.get(reverse("tenant_home", args=[tenant.slug])).status_code == 200
    assert tenant.name in support_client.get(reverse("support_console")).content.decode()


def test_tenant_admin_gets_404_on_the_support_console(tenant, admin_for):
    client, _ = admin_for(tenant)
    assert client.get(reverse("support_console")).status_code == 404


def test_language_switcher_changes_the_interface_language(tenant, admin_for):
    client, _ = admin_for(tenant)
    client.post(reverse("set_language"), {"language": "sv", "next": "/"})
    response = client.get(reverse("tenant_home", args=[tenant.slug]))
    assert response.headers["Content-Language"] == "sv"
