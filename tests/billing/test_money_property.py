"""Property: whatever an admin and the clock do to one tenant (buy, add and remove licenses,
renew, change catalog prices, upgrade E4, cancel), every subscription has been billed exactly
the service it keeps: the sum of its charges minus its credits equals, term by term, the
license-days it keeps times the price charged for that term. The expected figure comes from a
model the test keeps itself, not from the billing code.

And the tenant's money adds up: card payments minus the credit balance equal everything billed;
no card was ever charged a negative amount."""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, InvoiceLine, Payment, Price, Product, Status, Subscription
from billing.orders import PurchaseCart, purchase_place, purchase_quote
from billing.payments import credit_balance
from billing.pricing import add_months
from billing.services import (
    subscription_cancel,
    subscription_create,
    subscription_licenses_add,
    subscription_licenses_remove,
    subscriptions_advance,
)
from billing.tasks import subscriptions_advance as billing_task
from portal import clock
from portal.clock import clock_advance
from portal.errors import DomainError
from portal.models import Role
from portal.selectors import TenantAccess
from tests.factories import (
    BillingProfileFactory,
    MembershipFactory,
    TenantFactory,
    UserFactory,
    users_with_licenses,
)
from upgrades import engine, services
from upgrades.models import RunState

pytestmark = pytest.mark.django_db

ON_SALE = ["O365_E3", "O365_E1", "M365_BP"]
MONTHS = {"monthly": 1, "yearly": 12}


@dataclass
class Term:
    start: dt.date
    end: dt.date
    price: Decimal
    months: int
    # (first day, licenses from that day on)
    quantities: list = field(default_factory=list)

    def value(self, service_end: dt.date | None) -> Fraction:
        stop = min(self.end, service_end) if service_end else self.end
        days = Fraction(0)
        marks = [*self.quantities, (stop, 0)]
        for (day, quantity), (next_day, _q) in zip(marks, marks[1:], strict=False):
            span = (min(next_day, stop) - max(day, self.start)).days
            if span > 0:
                days += quantity * span
        return Fraction(self.price) * self.months * days / (self.end - self.start).days


@dataclass
class Kept:
    """The test's own record of one subscription: its terms, licenses, and when service ended."""

    code: str
    frequency: str
    quantity: int
    terms: list = field(default_factory=list)
    ended: dt.date | None = None
    prepaid: Fraction = Fraction(0)  # paid outside the ledger (the seeded E4's first term)
    renews: bool = True
    assigned: int = 0

    @property
    def live(self):
        return self.ended is None

    def new_term(self, start: dt.date, price: Decimal):
        months = MONTHS[self.frequency]
        self.terms.append(
            Term(start, add_months(start, months), price, months, [(start, self.quantity)])
        )

    def change(self, today: dt.date, quantity: int):
        self.quantity = quantity
        self.terms[-1].quantities.append((today, quantity))

    def billed(self) -> Fraction:
        return sum((t.value(self.ended) for t in self.terms), Fraction(0)) - self.prepaid


def list_price(code: str, currency: str) -> Decimal:
    return Price.objects.get(product__code=code, currency=currency).monthly


class World:
    def __init__(self, e4_frequency: str, e4_quantity: int, e4_users: int):
        self.tenant = TenantFactory()
        BillingProfileFactory(tenant=self.tenant)
        self.admin = UserFactory()
        MembershipFactory(user=self.admin, tenant=self.tenant, role=Role.GLOBAL_ADMIN)
        self.kept: dict[int, Kept] = {}
        today = clock.today()
        e4 = subscription_create(
            tenant=self.tenant,
            product=Product.objects.get(code="O365_E4"),
            quantity=e4_quantity,
            billing_frequency=e4_frequency,
            channel="direct_card",
            status=Status.ACTIVE,
            recurring_billing=False,
        )
        users_with_licenses(e4, e4_users)
        kept = Kept("O365_E4", e4_frequency, e4_quantity, renews=False, assigned=e4_users)
        kept.new_term(today, list_price("O365_E4", self.tenant.currency))
        kept.prepaid = kept.terms[0].value(None)
        self.kept[e4.pk] = kept
        self.e4 = e4.pk
        self.upgraded = False

    # --- What the clock does ------------------------------------------------------------------

    def advance(self, days: int):
        clock_advance(delta=dt.timedelta(days=days))
        billing_task()
        today = clock.today()
        for kept in self.kept.values():
            if not kept.live:
                continue
            while kept.terms[-1].end <= today:
                if not kept.renews:
                    kept.ended = kept.terms[-1].end  # expired at its paid-through date
                    break
                kept.new_term(kept.terms[-1].end, list_price(kept.code, self.tenant.currency))

    # --- What an admin does -------------------------------------------------------------------

    def buy(self, code: str, quantity: int, frequency: str):
        cart = PurchaseCart(product_code=code, quantity=quantity, billing_frequency=frequency)
        snapshot = purchase_quote(tenant=self.tenant, cart=cart)
        order = purchase_place(
            tenant=self.tenant,
            actor=self.admin,
            idempotency_key=uuid.uuid4().hex,
            snapshot=snapshot,
            payment_method="card",
        )
        subscriptions_advance()  # set up at once (no provisioning delay in tests)
        kept = Kept(code, frequency, quantity)
        kept.new_term(clock.today(), Decimal(snapshot["unit_price"]))
        self.kept[order.subscription_id] = kept

    def _pick(self, index: int):
        live = [pk for pk, kept in self.kept.items() if kept.live]
        return live[index % len(live)] if live else None

    def add(self, index: int, count: int):
        pk = self._pick(index)
        if pk is None:
            return
        kept = self.kept[pk]
        allowed = kept.code != "O365_E4"
        try:
            subscription_licenses_add(
                tenant=self.tenant, actor=self.admin, subscription_id=pk, count=count
            )
        except DomainError:
            assert not allowed, "refused an allowed addition"
            return
        assert allowed, "added licenses to an end-of-sale plan"
        kept.change(clock.today(), kept.quantity + count)

    def remove(self, index: int, count: int):
        pk = self._pick(index)
        if pk is None:
            return
        kept = self.kept[pk]
        allowed = kept.quantity - count >= max(kept.assigned, 1)
        try:
            subscription_licenses_remove(
                tenant=self.tenant, actor=self.admin, subscription_id=pk, count=count
            )
        except DomainError:
            assert not allowed, "refused an allowed removal"
            return
        assert allowed, "removed licenses below those in use"
        kept.change(clock.today(), kept.quantity - count)

    def cancel(self, index: int):
        pk = self._pick(index)
        if pk is None:
            return
        kept = self.kept[pk]
        try:
            subscription_cancel(tenant=self.tenant, actor=self.admin, subscription_id=pk)
        except DomainError:
            assert kept.quantity > 25, "refused an allowed cancellation"
            return
        kept.ended = clock.today()

    def price(self, code: str, change: int):
        Price.objects.filter(product__code=code, currency=self.tenant.currency).update(
            monthly=max(list_price(code, self.tenant.currency) + change, Decimal("1.00"))
        )

    def upgrade(self, target: str, frequency: str):
        kept = self.kept[self.e4]
        if self.upgraded or not kept.live:
            return
        e4 = Subscription.objects.get(pk=self.e4)
        access = TenantAccess(user=self.admin, tenant=self.tenant, role=Role.GLOBAL_ADMIN)
        cart = services.upgrade_cart_create(access=access, source=e4, target_code=target)
        cart = services.upgrade_cart_update(
            cart=cart, actor=self.admin, quantity=cart.quantity, billing_frequency=frequency
        )
        cart = services.upgrade_checkout_open(cart=cart, actor=self.admin)
        run = services.upgrade_place(
            tenant=self.tenant, actor=self.admin, cart=cart, idempotency_key=cart.checkout_token
        )
        assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
        run.refresh_from_db()
        self.upgraded = True
        kept.ended = clock.today()
        new = Kept(target, frequency, cart.quantity, assigned=kept.assigned)
        new.new_term(clock.today(), Decimal(cart.snapshot["unit_price"]))
        self.kept[run.new_subscription_id] = new

    # --- The property -------------------------------------------------------------------------

    def check(self, step):
        for pk, kept in self.kept.items():
            lines = InvoiceLine.objects.filter(subscription_id=pk)
            billed = lines.aggregate(total=Sum("amount"))["total"] or Decimal("0")
            # Every line is rounded to the cent once: half a cent each at most.
            tolerance = Fraction(1, 200) * max(lines.count(), 1)
            expected = kept.billed()
            assert abs(Fraction(billed) - expected) <= tolerance, (
                step,
                kept.code,
                billed,
                float(expected),
                [(t.start, t.end, t.price, t.quantities) for t in kept.terms],
                kept.ended,
            )
        tenant = self.tenant
        paid = Payment.objects.filter(tenant=tenant, result="succeeded").aggregate(
            total=Sum("amount")
        )["total"] or Decimal("0")
        everything = InvoiceLine.objects.filter(invoice__tenant=tenant).aggregate(
            total=Sum("amount")
        )["total"] or Decimal("0")
        assert paid - credit_balance(tenant=tenant) == everything, (step, paid, everything)
        assert not Payment.objects.filter(tenant=tenant, amount__lt=0).exists(), step
        assert not Invoice.objects.filter(tenant=tenant, state="unpaid").exists(), step


steps = st.one_of(
    st.tuples(st.just("advance"), st.integers(1, 75)),
    st.tuples(
        st.just("buy"),
        st.sampled_from(ON_SALE),
        st.integers(1, 20),
        st.sampled_from(["monthly", "yearly"]),
    ),
    st.tuples(st.just("add"), st.integers(0, 9), st.integers(1, 5)),
    st.tuples(st.just("remove"), st.integers(0, 9), st.integers(1, 8)),
    st.tuples(st.just("cancel"), st.integers(0, 9)),
    st.tuples(
        st.just("price"), st.sampled_from([*ON_SALE, "O365_E4", "O365_E5"]), st.integers(-3, 6)
    ),
    st.tuples(
        st.just("upgrade"),
        st.sampled_from(["O365_E5", "M365_E5"]),
        st.sampled_from(["monthly", "yearly"]),
    ),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    # From today (the 4th of December 2026 when written) to February, month ends more often.
    start=st.one_of(st.integers(0, 62), st.sampled_from([25, 26, 27, 56, 57, 58])),
    e4_frequency=st.sampled_from(["monthly", "yearly"]),
    e4_quantity=st.integers(3, 20),
    e4_users=st.integers(1, 3),
    program=st.lists(steps, min_size=3, max_size=14),
)
def test_every_subscription_is_billed_exactly_the_service_it_keeps(
    start, e4_frequency, e4_quantity, e4_users, program
):
    with transaction.atomic():
        clock_advance(delta=dt.timedelta(days=start))
        world = World(e4_frequency, e4_quantity, e4_users)
        world.check("start")
        for step in program:
            getattr(world, step[0])(*step[1:])
            world.check(step)
        transaction.set_rollback(True)
