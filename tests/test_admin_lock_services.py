"""The admin lock is a domain rule: every write service an admin can reach (page, API or command)
refuses a locked tenant, with the message its admins read on the lock page, and changes nothing;
a support engineer is not locked. The list of write services is checked against the modules, so
a new service without the check fails here."""

import datetime as dt
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from types import ModuleType, SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

import billing.orders
import billing.payments
import billing.services
import licensing.api
import licensing.services
import portal.api.services
import upgrades.checkout
import upgrades.help
import upgrades.services
from billing.models import Status
from billing.orders import PurchaseCart, purchase_quote
from billing.pricing import Line
from portal import clock
from portal.api.services import api_token_create
from portal.errors import AdminLocked
from portal.models import AdminLock, Role
from portal.selectors import TenantAccess
from portal.services import admin_lock_acquire
from tests.api.conftest import ApiClient
from tests.factories import (
    DirectoryUserFactory,
    MembershipFactory,
    SubscriptionFactory,
    UserFactory,
    product,
)
from tests.upgrades.conftest import access_of, make_e4_tenant

pytestmark = pytest.mark.django_db

STATUS_URL = "/t/locked/upgrades/1/"


# --- The world: an E4 tenant where every write below succeeds as long as it is not locked ------


@pytest.fixture
def world(db):
    t = make_e4_tenant(users=10)
    tenant = t.tenant
    # A support engineer (is_staff) who also holds a Global admin membership, so that the
    # services needing a membership (tokens) or a role that may buy (the cart) can succeed:
    # the lock itself looks only at is_support.
    support = UserFactory(is_staff=True)
    support_membership = MembershipFactory(user=support, tenant=tenant, role=Role.GLOBAL_ADMIN)
    admin_membership = t.admin.memberships.get(tenant=tenant)
    token, raw = api_token_create(membership=admin_membership, name="made before the lock")
    return SimpleNamespace(
        **vars(t),
        e5=SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=20),
        expired=SubscriptionFactory(
            tenant=tenant, product=product("O365_E1"), quantity=5, status=Status.EXPIRED
        ),
        unlicensed=DirectoryUserFactory(tenant=tenant),
        cart=upgrades.checkout.upgrade_cart_create(
            access=access_of(t), source=t.e4, target_code="O365_E5"
        ),
        token=token,
        api=ApiClient(tenant, raw, t.admin),
        actors={
            "admin": (t.admin, admin_membership, access_of(t)),
            "support": (
                support,
                support_membership,
                TenantAccess(user=support, tenant=tenant, role=Role.GLOBAL_ADMIN),
            ),
        },
    )


def lock(w) -> AdminLock:
    w.lock = admin_lock_acquire(
        tenant=w.tenant,
        holder=w.tenant.billing_profile,
        reason="upgrade in progress",
        status_url=STATUS_URL,
    )
    return w.lock


def database_digest() -> dict[str, str]:
    """Every row of every table of the project, counted and hashed per table."""
    digest = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.django_table_names(only_existing=True)):
            quoted = connection.ops.quote_name(table)
            rows = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
            cursor.execute(f"SELECT count(*), {rows} FROM {quoted} t")  # noqa: S608 (quoted name)
            digest[table] = "{}:{}".format(*cursor.fetchone())
    return digest


# --- Every guarded write service, as a call that succeeds on an unlocked tenant -----------------


def _nothing(w) -> None:
    pass


@dataclass(frozen=True)
class Case:
    module: ModuleType
    name: str
    call: Callable  # (world, user, membership, access): the write
    prepare: Callable = _nothing  # (world): what the write needs, done before the lock

    @property
    def id(self) -> str:
        return f"{self.module.__name__}.{self.name}"

    def run(self, w, who: str) -> None:
        user, membership, access = w.actors[who]
        self.call(w, user, membership, access)


def _purchase_quote(w) -> None:
    w.purchase = purchase_quote(
        tenant=w.tenant,
        cart=PurchaseCart(product_code="O365_E1", quantity=2, billing_frequency="monthly"),
    )


CASES = [
    Case(
        billing.services,
        "subscription_licenses_add",
        lambda w, user, m, a: billing.services.subscription_licenses_add(
            tenant=w.tenant, actor=user, subscription_id=w.e5.pk, count=2
        ),
    ),
    Case(
        billing.services,
        "subscription_licenses_remove",
        lambda w, user, m, a: billing.services.subscription_licenses_remove(
            tenant=w.tenant, actor=user, subscription_id=w.e5.pk, count=2
        ),
    ),
    Case(
        billing.services,
        "subscription_cancel",
        lambda w, user, m, a: billing.services.subscription_cancel(
            tenant=w.tenant, actor=user, subscription_id=w.e5.pk
        ),
    ),
    Case(
        billing.services,
        "subscription_reactivate",
        lambda w, user, m, a: billing.services.subscription_reactivate(
            tenant=w.tenant, actor=user, subscription_id=w.expired.pk
        ),
    ),
    Case(
        billing.services,
        "billing_profile_update",
        lambda w, user, m, a: billing.services.billing_profile_update(
            tenant=w.tenant, actor=user, data={"po_number": "PO-42"}
        ),
    ),
    Case(
        billing.services,
        "sold_to_update",
        lambda w, user, m, a: billing.services.sold_to_update(
            tenant=w.tenant, actor=user, data={"city": "Elsewhere"}
        ),
    ),
    Case(
        billing.orders,
        "purchase_place",
        lambda w, user, m, a: billing.orders.purchase_place(
            tenant=w.tenant,
            actor=user,
            idempotency_key="purchase-1",
            snapshot=w.purchase,
            payment_method="card",
        ),
        prepare=_purchase_quote,
    ),
    Case(
        licensing.services,
        "license_assign",
        lambda w, user, m, a: licensing.services.license_assign(
            tenant=w.tenant, actor=user, subscription_id=w.e5.pk, user_ids=[w.unlicensed.pk]
        ),
    ),
    Case(
        licensing.services,
        "license_unassign",
        lambda w, user, m, a: licensing.services.license_unassign(
            tenant=w.tenant, actor=user, subscription_id=w.e4.pk, user_ids=[w.users[0].pk]
        ),
    ),
    Case(
        licensing.services,
        "license_replace",
        lambda w, user, m, a: licensing.services.license_replace(
            tenant=w.tenant,
            actor=user,
            source_id=w.e4.pk,
            target_id=w.e5.pk,
            user_ids=[w.users[0].pk],
        ),
    ),
    Case(
        upgrades.checkout,
        "upgrade_cart_create",
        lambda w, user, m, access: upgrades.checkout.upgrade_cart_create(
            access=access, source=w.e4, target_code="M365_E5"
        ),
    ),
    Case(
        upgrades.checkout,
        "upgrade_cart_update",
        lambda w, user, m, a: upgrades.checkout.upgrade_cart_update(
            cart=w.cart, actor=user, billing_frequency="yearly", quantity=12
        ),
    ),
    Case(
        upgrades.checkout,
        "upgrade_checkout_open",
        lambda w, user, m, a: upgrades.checkout.upgrade_checkout_open(cart=w.cart, actor=user),
    ),
    Case(
        upgrades.checkout,
        "upgrade_checkout_update",
        lambda w, user, m, a: upgrades.checkout.upgrade_checkout_update(
            cart=w.cart, actor=user, po_number="PO-7"
        ),
    ),
    Case(
        upgrades.checkout,
        "upgrade_checkout_window_set",
        lambda w, user, m, a: upgrades.checkout.upgrade_checkout_window_set(
            cart=w.cart, actor=user, scheduled_for=_window(days=2)
        ),
        prepare=lambda w: _checkout_open(w),
    ),
    Case(
        upgrades.services,
        "upgrade_run_cancel",
        lambda w, user, m, a: upgrades.services.upgrade_run_cancel(
            tenant=w.tenant, actor=user, run_id=w.run.pk, reason="not this week"
        ),
        prepare=lambda w: _scheduled(w),
    ),
    Case(
        upgrades.services,
        "upgrade_run_reschedule",
        lambda w, user, m, a: upgrades.services.upgrade_run_reschedule(
            tenant=w.tenant, actor=user, run_id=w.run.pk, scheduled_for=_window(days=5)
        ),
        prepare=lambda w: _scheduled(w),
    ),
    Case(
        portal.api.services,
        "api_token_create",
        lambda w, user, membership, a: portal.api.services.api_token_create(
            membership=membership, name="made during the lock"
        ),
    ),
]


def _checkout_open(w) -> None:
    w.cart = upgrades.checkout.upgrade_checkout_open(cart=w.cart, actor=w.admin)


def _window(*, days: int):
    return (clock.now() + dt.timedelta(days=days)).replace(second=0, microsecond=0)


def _scheduled(w) -> None:
    """An upgrade scheduled for a maintenance window: it holds no lock until it starts."""
    _checkout_open(w)
    w.cart = upgrades.checkout.upgrade_checkout_window_set(
        cart=w.cart, actor=w.admin, scheduled_for=_window(days=2)
    )
    w.run = upgrades.services.upgrade_place(
        tenant=w.tenant, actor=w.admin, cart=w.cart, idempotency_key=w.cart.checkout_token
    )


def _unpaid_invoice(w) -> None:
    w.invoice = billing.payments.invoice_create(
        tenant=w.tenant, lines=[Line(description="Unpaid", quantity=1, amount=Decimal("10.00"))]
    )


# Placing an upgrade and paying an invoice need an open checkout or an unpaid invoice first.
CASES_WITH_SETUP = [
    Case(
        upgrades.services,
        "upgrade_place",
        lambda w, user, m, a: upgrades.services.upgrade_place(
            tenant=w.tenant, actor=user, cart=w.cart, idempotency_key=w.cart.checkout_token
        ),
        prepare=_checkout_open,
    ),
    Case(
        billing.payments,
        "invoice_pay",
        lambda w, user, m, a: billing.payments.invoice_pay(
            tenant=w.tenant, actor=user, invoice_id=w.invoice.pk
        ),
        prepare=_unpaid_invoice,
    ),
]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id) for c in CASES + CASES_WITH_SETUP],
)
def test_an_admin_is_refused_with_the_lock_message_and_nothing_changes(world, case):
    case.prepare(world)
    lock(world)
    before = database_digest()

    with pytest.raises(AdminLocked) as refused:
        case.run(world, "admin")

    assert refused.value.code == "admin_locked"
    assert refused.value.message == world.lock.message
    assert refused.value.details == {"status_url": STATUS_URL}
    assert database_digest() == before


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_a_support_engineer_is_not_locked(world, case):
    case.prepare(world)
    lock(world)
    before = database_digest()

    case.run(world, "support")

    assert database_digest() != before
    assert AdminLock.objects.filter(tenant=world.tenant).exists()


# --- Fix the class: a new write service must be guarded (and tested here) or explained --------

GUARDED_MODULES = [
    billing.services,
    billing.orders,
    billing.payments,
    licensing.services,
    upgrades.checkout,
    upgrades.help,
    upgrades.services,
    portal.api.services,
]
# A parameter naming the tenant (or something of one tenant) that a service writes to.
TENANT_SCOPED = {"tenant", "access", "cart", "membership", "token"}
NOT_GUARDED = {
    "upgrades.checkout.cart_quote": "a read: the cart's prices as of the day it would start",
    "upgrades.help.support_request_create": "Contact support stays open while the tenant is "
    "locked, by design: the admins an upgrade locks out need help most (it changes nothing of "
    "the tenant's services; at most 10 open requests per tenant)",
    "upgrades.help.support_request_subject_get": "a read: what a support request is about",
    "upgrades.help.support_request_get": "a read",
    "upgrades.help.support_request_list": "a read",
    "billing.services.subscription_create": "a low-level step of the upgrade run (the lock "
    "holder) and of purchase fulfilment, both behind a guarded service",
    "billing.orders.order_get_or_create": "runs inside purchase_place and upgrade_place, which "
    "are guarded",
    "billing.orders.purchase_cart_check": "a read: checks what a cart may buy",
    "billing.orders.purchase_quote": "a read: the price checkout shows",
    "billing.orders.purchase_payment_check": "a read: checks the payment choice",
    "billing.payments.invoice_create": "a low-level step of billing, behind guarded services "
    "and the upgrade run",
    "billing.payments.card_charge": "a low-level step of billing, behind guarded services and "
    "the upgrade run",
    "billing.payments.lines_bill": "a low-level step of billing, behind guarded services",
    "billing.payments.settlement_preview": "a read: how checkout's total would be settled",
    "billing.payments.invoices_reverse": "a low-level step of the upgrade run's compensation and "
    "of the renewal pass (system writers, never an admin's)",
    "upgrades.checkout.target_option_or_error": "a read: eligibility of a target",
    "upgrades.checkout.quantity_check": "a read: validates a quantity",
    "upgrades.checkout.snapshot_stale": "a read: whether the frozen prices still hold",
    "upgrades.checkout.payment_invoice_allowed": "a read",
    "upgrades.checkout.payment_credit_check_required": "a read",
    "portal.api.services.api_token_touch": "bookkeeping of every authenticated API request, "
    "lock-exempt ones included",
    "portal.api.services.api_idempotent_call": "a wrapper: what it performs is a guarded service",
    "portal.api.services.api_token_revoke": "lock-exempt on purpose: an admin must be able to "
    "revoke a leaked token at any time (tests/api/test_token_page.py)",
}


def _tenant_scoped_functions():
    for module in GUARDED_MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            if TENANT_SCOPED & set(inspect.signature(function).parameters):
                yield f"{module.__name__}.{name}"


def test_every_tenant_scoped_write_service_is_tested_here_or_explained():
    tested = {case.id for case in CASES + CASES_WITH_SETUP}
    found = set(_tenant_scoped_functions())

    unexplained = found - tested - set(NOT_GUARDED)
    assert not unexplained, (
        "Call portal.services.admin_lock_enforce in these services and add them to CASES, or "
        f"say in NOT_GUARDED why they need not refuse a locked tenant: {sorted(unexplained)}"
    )
    assert not (tested | set(NOT_GUARDED)) - found, "stale entries"


# --- Through the commands and the API ---------------------------------------------------------


def _csv(tmp_path, users) -> str:
    path = tmp_path / "users.csv"
    path.write_text("UPN\n" + "\n".join(u.upn for u in users) + "\n", encoding="utf-8")
    return str(path)


def _command_args(w, name):
    return {
        "licenses_assign": ["--subscription", w.e5.pk],
        "licenses_unassign": ["--subscription", w.e4.pk],
        "licenses_replace": ["--source", w.e4.pk, "--target", w.e5.pk],
    }[name]


def _command_users(w, name):
    return [w.unlicensed] if name == "licenses_assign" else w.users[:3]


@pytest.mark.parametrize("name", ["licenses_assign", "licenses_unassign", "licenses_replace"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_the_license_commands_are_refused_with_the_lock_message(world, tmp_path, name, dry_run):
    args = [name, "--tenant", world.tenant.slug, *_command_args(world, name)]
    args += ["--csv", _csv(tmp_path, _command_users(world, name)), "--no-progress"]
    lock(world)
    before = database_digest()

    with pytest.raises(CommandError) as refused:
        call_command(*args, *(["--dry-run"] if dry_run else []), stdout=StringIO())

    # A CommandError: manage.py prints its message and exits 1, without a traceback.
    assert refused.value.returncode == 1
    assert str(refused.value) == f"Refused, nothing changed: {world.lock.message}"
    assert database_digest() == before


def test_a_license_command_run_as_a_support_engineer_goes_through(world, tmp_path):
    support = UserFactory(is_staff=True)  # no membership: a support engineer and nothing else
    lock(world)
    out = StringIO()

    call_command(
        "licenses_assign",
        "--tenant",
        world.tenant.slug,
        "--subscription",
        world.e5.pk,
        "--csv",
        _csv(tmp_path, [world.unlicensed]),
        "--actor",
        support.username,
        "--no-progress",
        stdout=out,
    )

    assert out.getvalue().splitlines()[-1] == "Assigned 1 license, 0 already held, 0 refused."


def _without_token_use(digest: dict) -> dict:
    # Every authenticated request records the token's last use, a locked one included.
    return {table: rows for table, rows in digest.items() if table != "portal_apitoken"}


def test_an_api_write_on_a_locked_tenant_answers_423_admin_locked(world):
    lock(world)
    before = _without_token_use(database_digest())

    response = world.api.post(
        "licenses/assign", {"subscription_id": world.e5.pk, "users": [world.unlicensed.upn]}
    )

    assert response.status_code == 423
    assert response.json() == {
        "code": "admin_locked",
        "message": world.lock.message,
        "details": {"status_url": STATUS_URL},
    }
    assert _without_token_use(database_digest()) == before


def test_a_lock_set_after_the_api_let_the_request_in_gets_the_same_423(world, monkeypatch):
    """The service refuses what the authentication let through a moment before the lock was
    set (a race made exact by a patch): the answer is the authentication's 423, not a 422."""
    resolve = licensing.api.directory_user_ids_for_upns

    def resolve_then_lock(**kwargs):
        lock(world)
        return resolve(**kwargs)

    monkeypatch.setattr(licensing.api, "directory_user_ids_for_upns", resolve_then_lock)
    body = {"subscription_id": world.e5.pk, "users": [world.unlicensed.upn]}

    by_service = world.api.post("licenses/assign", body)
    by_auth = world.api.post("licenses/assign", body)

    assert by_service.status_code == by_auth.status_code == 423
    assert by_service.json() == by_auth.json()
    assert by_service.json()["code"] == "admin_locked"
    assert not world.e5.assignments.exists()
