"""Why the Upgrade tab may show no plans: the pure rules, and each reason on the real tab."""

import dataclasses
import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice, InvoiceLine
from portal.models import Role
from portal.services import admin_lock_release, incident_open
from tests.factories import SubscriptionFactory, UserFactory, product
from upgrades.eligibility import (
    AddonFacts,
    EligibilitySnapshot,
    ReasonCode,
    TargetFacts,
    eligibility_evaluate,
)

from .conftest import make_e4_tenant, place

E5 = TargetFacts(
    code="O365_E5",
    name="Office 365 E5",
    seat_cap=None,
    services=frozenset({"exchange", "voice", "analytics"}),
    includes=frozenset({"PHONE_SYSTEM"}),
    accepts=frozenset({"EXTRA_STORAGE"}),
)
ELIGIBLE = EligibilitySnapshot(
    product_code="O365_E4",
    product_name="Office 365 E4",
    is_addon=False,
    status="active",
    channel="direct_card",
    is_trial=False,
    is_prepaid=False,
    offer="commercial",
    quantity=10,
    assigned=10,
    set_up=True,
    open_incident=False,
    tenant_run_state=None,
    same_product_count=1,
    overdue_invoices=0,
    queue_depth=0,
    queue_threshold=50,
    can_purchase=True,
    source_services=frozenset({"exchange", "voice"}),
    addons=(AddonFacts(1, "PHONE_SYSTEM", "Phone System"),),
    targets=(E5,),
)

ONE_RULE_BROKEN = {
    ReasonCode.PARTNER_CHANNEL: {"channel": "partner"},
    ReasonCode.NOT_ACTIVE: {"status": "expired"},
    ReasonCode.TRIAL: {"is_trial": True},
    ReasonCode.PREPAID: {"is_prepaid": True},
    ReasonCode.GOVERNMENT_OFFER: {"offer": "nonprofit"},
    ReasonCode.LICENSING_CONFLICT: {"assigned": 11},
    ReasonCode.NOT_READY: {"open_incident": True},
    ReasonCode.UPGRADE_IN_PROGRESS: {"tenant_run_state": "awaiting_credit_check"},
    ReasonCode.DUPLICATE_SUBSCRIPTIONS: {"same_product_count": 2},
    ReasonCode.UNPAID_INVOICE: {"overdue_invoices": 1},
    ReasonCode.HIGH_VOLUME: {"queue_depth": 51},
    ReasonCode.NO_UPGRADE_PATH: {"targets": ()},
    ReasonCode.READ_ONLY_ROLE: {"can_purchase": False},
}
TEMPORARY = {ReasonCode.NOT_READY, ReasonCode.UPGRADE_IN_PROGRESS, ReasonCode.HIGH_VOLUME}


def test_a_subscription_that_passes_every_check_lists_its_targets():
    result = eligibility_evaluate(ELIGIBLE)
    assert result.eligible and result.reasons == ()
    (target,) = result.available_targets
    assert [a.code for a in target.removed_addons] == ["PHONE_SYSTEM"]


def test_there_are_thirteen_subscription_rules():
    assert len(ONE_RULE_BROKEN) == 13


@pytest.mark.parametrize("code", list(ONE_RULE_BROKEN), ids=str)
def test_each_rule_gives_its_own_reason_with_message_and_remedy(code):
    result = eligibility_evaluate(dataclasses.replace(ELIGIBLE, **ONE_RULE_BROKEN[code]))
    assert [r.code for r in result.reasons] == [code]
    reason = result.reasons[0]
    assert str(reason.message) and str(reason.remedy)
    assert reason.temporary is (code in TEMPORARY)
    assert not result.eligible and result.available_targets == ()


def test_a_token_that_may_not_buy_is_told_so_rather_than_blaming_the_role():
    """The read-only rule, when the admin may buy but their API token's scopes may not."""
    result = eligibility_evaluate(
        dataclasses.replace(ELIGIBLE, can_purchase=False, purchase_limited_by_token=True)
    )
    assert result.codes == {ReasonCode.READ_ONLY_TOKEN}
    assert "billing scope" in result.reasons[0].remedy


def test_every_broken_rule_is_reported_not_only_the_first():
    broken = {}
    for change in ONE_RULE_BROKEN.values():
        broken.update(change)
    result = eligibility_evaluate(dataclasses.replace(ELIGIBLE, **broken))
    assert result.codes == set(ONE_RULE_BROKEN)


def test_seat_cap_makes_one_target_unavailable():
    capped = dataclasses.replace(E5, code="M365_BP", seat_cap=300)
    result = eligibility_evaluate(
        dataclasses.replace(ELIGIBLE, quantity=301, assigned=200, targets=(E5, capped))
    )
    assert result.target("O365_E5").available
    assert [r.code for r in result.target("M365_BP").reasons] == [ReasonCode.SEAT_CAP]


def test_an_addon_the_target_neither_includes_nor_accepts_makes_it_unavailable():
    snapshot = dataclasses.replace(
        ELIGIBLE, addons=(AddonFacts(2, "CALLING_INTL", "Domestic and International Calling"),)
    )
    (target,) = eligibility_evaluate(snapshot).targets
    assert not target.available
    assert [r.code for r in target.reasons] == [ReasonCode.ADDON_NOT_CARRIED]


def test_a_narrower_target_names_the_services_users_lose():
    e3 = dataclasses.replace(E5, code="O365_E3", services=frozenset({"exchange"}))
    snapshot = dataclasses.replace(
        ELIGIBLE, targets=(e3,), service_names={"voice": "Enterprise Voice"}
    )
    (target,) = eligibility_evaluate(snapshot).targets
    assert target.available and target.lost_services == ("Enterprise Voice",)


# --- On the Upgrade tab ---------------------------------------------------------------------


def tab(t, client=None):
    if client is None:
        client = Client()
        client.force_login(t.admin)
    response = client.get(reverse("upgrade_tab", args=[t.tenant.slug, t.e4.pk]))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _overdue_invoice(t):
    now = timezone.now()
    invoice = Invoice.objects.create(
        tenant=t.tenant,
        number=f"INV-{t.tenant.slug}",
        currency="USD",
        issued_at=now - dt.timedelta(days=40),
        due_date=(now - dt.timedelta(days=10)).date(),
        amount_due="10.00",
    )
    InvoiceLine.objects.create(invoice=invoice, description="E4", amount="10.00")


def _another_run(t):
    run = place(t)
    admin_lock_release(tenant=t.tenant)  # as a support engineer releasing a stuck lock would
    return run


def _busy_service(t, settings):
    settings.PORTAL_UPGRADE_QUEUE_THRESHOLD = 0
    place(make_e4_tenant(users=1))


SCENARIOS = {
    ReasonCode.PARTNER_CHANNEL: ({"channel": "partner"}, None),
    ReasonCode.NOT_ACTIVE: ({"status": "expired"}, None),
    ReasonCode.TRIAL: ({"is_trial": True}, None),
    ReasonCode.PREPAID: ({"is_prepaid": True}, None),
    ReasonCode.GOVERNMENT_OFFER: ({"offer": "government"}, None),
    ReasonCode.LICENSING_CONFLICT: ({"quantity": 3}, None),
    ReasonCode.NOT_READY: (
        {},
        lambda t, s: incident_open(tenant=None, title="Exchange degraded", actor=None, reason="x"),
    ),
    ReasonCode.UPGRADE_IN_PROGRESS: ({}, lambda t, s: _another_run(t)),
    ReasonCode.DUPLICATE_SUBSCRIPTIONS: (
        {},
        lambda t, s: SubscriptionFactory(tenant=t.tenant, product=product("O365_E4")),
    ),
    ReasonCode.UNPAID_INVOICE: ({}, lambda t, s: _overdue_invoice(t)),
    ReasonCode.HIGH_VOLUME: ({}, _busy_service),
    ReasonCode.NO_UPGRADE_PATH: ({"source": "O365_E5"}, None),
    ReasonCode.READ_ONLY_ROLE: ({"role": Role.GLOBAL_READER}, None),
}


@pytest.mark.django_db
@pytest.mark.parametrize("code", list(SCENARIOS), ids=str)
def test_each_reason_shows_on_the_upgrade_tab_of_a_factory_tenant(code, settings):
    options, arrange = SCENARIOS[code]
    t = make_e4_tenant(users=5, **options)
    if arrange:
        arrange(t, settings)
    html = tab(t)
    assert f'data-reason="{code}"' in html
    assert 'name="target"' not in html  # no plan can be put in a cart


@pytest.mark.django_db
def test_subscription_not_yet_set_up_is_a_temporary_reason():
    t = make_e4_tenant(users=2, ready_at=timezone.now() + dt.timedelta(hours=3))
    html = tab(t)
    assert 'data-reason="not_ready"' in html and "Temporary" in html


@pytest.mark.django_db
def test_unpaid_invoice_offers_pay_now_on_the_page_that_lists_unpaid_invoices():
    t = make_e4_tenant(users=2)
    _overdue_invoice(t)
    html = tab(t)
    assert "Pay now" in html
    assert reverse("products", args=[t.tenant.slug]) + "#unpaid-invoices" in html


@pytest.mark.django_db
def test_eligible_e4_lists_targets_with_addon_fate_and_the_e3_warning(
    django_assert_max_num_queries,
):
    t = make_e4_tenant(
        users=30, addons=[("PHONE_SYSTEM", 5, 5), ("AUDIO_CONF", 5, 5), ("EXTRA_STORAGE", 10, 0)]
    )
    client = Client()
    client.force_login(t.admin)
    with django_assert_max_num_queries(20):
        html = tab(t, client)
    for name in ("Office 365 E5", "Microsoft 365 E5", "Office 365 E3", "Microsoft 365 E3"):
        assert f"Upgrade to {name}" in html
    assert "Phone System: removed, included in the new plan" in html
    assert "Extra File Storage: moves to the new plan" in html
    assert 'data-warning="loses_services"' in html and "Enterprise Voice" in html


@pytest.mark.django_db
def test_support_engineer_sees_the_tab_read_only():
    t = make_e4_tenant(users=2)
    support = UserFactory(is_staff=True)
    client = Client()
    client.force_login(support)
    html = tab(t, client)
    assert 'data-reason="read_only_role"' in html


@pytest.mark.django_db
def test_per_target_reasons_show_on_the_tab():
    t = make_e4_tenant(users=301, source="O365_E1", addons=[("CALLING_DOMESTIC", 1, 1)])
    html = tab(t)
    assert 'data-reason="seat_cap"' in html  # Business Premium: 300 seats at most
    assert 'data-reason="addon_not_carried"' in html
    assert "Upgrade to Office 365 E5" in html


@pytest.mark.django_db
def test_another_tenants_subscription_is_not_found():
    t = make_e4_tenant(users=1)
    other = make_e4_tenant(users=1)
    client = Client()
    client.force_login(t.admin)
    response = client.get(reverse("upgrade_tab", args=[t.tenant.slug, other.e4.pk]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_demo_tenants_show_their_reasons(client):
    from upgrades.demo import demo_login, demo_seed

    demo_seed(password="demo-password")
    expected = {
        "fabrikam": (Role.GLOBAL_ADMIN, ReasonCode.PARTNER_CHANNEL),
        "tailspin": (Role.GLOBAL_ADMIN, ReasonCode.LICENSING_CONFLICT),
        "woodgrove": (Role.GLOBAL_ADMIN, ReasonCode.DUPLICATE_SUBSCRIPTIONS),
        "adatum": (Role.GLOBAL_ADMIN, ReasonCode.UNPAID_INVOICE),
        "litware": (Role.GLOBAL_ADMIN, ReasonCode.PREPAID),
        "trey": (Role.GLOBAL_ADMIN, ReasonCode.TRIAL),
        "cityhall": (Role.GLOBAL_ADMIN, ReasonCode.GOVERNMENT_OFFER),
        "contoso": (Role.GLOBAL_READER, ReasonCode.READ_ONLY_ROLE),
    }
    from django.contrib.auth import get_user_model

    from billing.models import Subscription

    for slug, (role, code) in expected.items():
        user = get_user_model().objects.get(username=demo_login(slug, role))
        client.force_login(user)
        subscription = Subscription.objects.filter(tenant__slug=slug, parent=None).first()
        html = client.get(reverse("upgrade_tab", args=[slug, subscription.pk])).content.decode()
        assert f'data-reason="{code}"' in html, slug
    client.force_login(get_user_model().objects.get(username=demo_login("contoso", "global_admin")))
    contoso_e4 = Subscription.objects.get(tenant__slug="contoso", product__code="O365_E4")
    html = client.get(reverse("upgrade_tab", args=["contoso", contoso_e4.pk])).content.decode()
    assert "Upgrade to Office 365 E5" in html and "data-reason" not in html
