"""Invoice numbers on PostgreSQL, with committed data and real concurrent transactions: one
gap-free series for the provider, across tenants. A number is taken under the series' row lock
in the issuing transaction, so a rollback gives it back and the next invoice takes it."""

import re
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from billing.models import Invoice, InvoiceSequence
from billing.payments import invoice_create
from billing.pricing import Line
from tests.upgrades.conftest import committed_catalog  # noqa: F401 (a fixture)

from ..factories import BillingProfileFactory, TenantFactory

THREADS = 8
INVOICES = 1_000
TENANTS = 5
ROLLBACK_EVERY = 9  # each thread also rolls back every 9th invoice it issues
NUMBER = re.compile(r"^INV-\d{6}$")


@pytest.fixture(autouse=True)
def _default_series(settings):
    settings.PORTAL_INVOICE_SERIES = "INV"


class Rollback(Exception):
    """Raised inside the issuing transaction to roll it back."""


def _tenants(count):
    tenants = [TenantFactory() for _ in range(count)]
    for tenant in tenants:
        BillingProfileFactory(tenant=tenant)
    return tenants


def _lines(i=0):
    return [Line(description=f"Charge {i}", quantity=1, amount=Decimal("10.00"))]


def _issue(tenant, i=0) -> str:
    with transaction.atomic():
        return invoice_create(tenant=tenant, lines=_lines(i)).number


def _numeric(number: str) -> int:
    assert NUMBER.match(number), number
    return int(number.removeprefix("INV-"))


def _closing(target, errors):
    def run():
        try:
            target()
        except Exception as exc:  # reported by the test: a thread's exception would be lost
            errors.append(exc)
        finally:
            connection.close()

    return run


def _run_threads(target, count):
    """Run target(i) in `count` threads, each on its own connection; the exceptions raised."""
    errors = []
    threads = [
        threading.Thread(target=_closing(lambda i=i: target(i), errors)) for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return errors


def _waiting_on_a_lock(timeout=10.0) -> bool:
    """Whether another session of this database waits for a lock, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("series_row", ["missing", "present"])
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("committed_catalog")
def test_a_thousand_invoices_from_eight_threads_are_numbered_without_gaps(series_row):
    """125 committed invoices per thread, over five tenants, with rolled-back ones in between:
    the committed numbers are unique and contiguous. "missing": the threads race to start the
    series (a flushed table); "present": it continues after the last number issued."""
    assert connection.vendor == "postgresql"
    tenants = _tenants(TENANTS)
    InvoiceSequence.objects.all().delete()
    if series_row == "present":
        InvoiceSequence.objects.create(name="INV", last=41)
    first = 1 if series_row == "missing" else 42
    per_thread = INVOICES // THREADS
    start = threading.Barrier(THREADS)
    committed = [[] for _ in range(THREADS)]
    rolled_back = [[] for _ in range(THREADS)]

    def issue_many(t):
        start.wait(timeout=30)
        issued = 0
        while len(committed[t]) < per_thread:
            tenant = tenants[(t + issued) % TENANTS]
            issued += 1
            try:
                with transaction.atomic():
                    number = invoice_create(tenant=tenant, lines=_lines(issued)).number
                    if issued % ROLLBACK_EVERY == 0:
                        raise Rollback
            except Rollback:
                rolled_back[t].append(number)
            else:
                committed[t].append(number)

    began = time.monotonic()
    errors = _run_threads(issue_many, THREADS)
    elapsed = time.monotonic() - began

    assert errors == []
    numbers = list(Invoice.objects.values_list("number", flat=True))
    assert len(numbers) == INVOICES
    assert all(NUMBER.match(number) for number in numbers)
    values = [_numeric(number) for number in numbers]
    assert len(set(values)) == INVOICES  # unique
    assert set(values) == set(range(first, first + INVOICES))  # contiguous: no gaps
    assert sorted(numbers) == sorted(n for thread in committed for n in thread)
    assert InvoiceSequence.objects.get(name="INV").last == first + INVOICES - 1
    # Every rolled-back number was given back and issued again, to a committed invoice.
    assert sum(map(len, rolled_back)) > 0
    assert {n for thread in rolled_back for n in thread} <= set(numbers)
    # The tenants were mixed: each has invoices, and the series is the provider's, not theirs.
    per_tenant = [Invoice.objects.filter(tenant=tenant).count() for tenant in tenants]
    assert all(per_tenant) and sum(per_tenant) == INVOICES
    assert elapsed < 30, f"issuing took {elapsed:.1f}s"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("committed_catalog")
def test_a_rolled_back_invoice_gives_its_number_to_the_next_one():
    (tenant,) = _tenants(1)
    InvoiceSequence.objects.all().delete()  # a flushed table: the first invoice starts it

    first = _issue(tenant)
    with pytest.raises(Rollback), transaction.atomic():
        taken = invoice_create(tenant=tenant, lines=_lines()).number
        raise Rollback
    after = _issue(tenant)

    assert first == "INV-000001"
    assert taken == after == "INV-000002"
    assert list(Invoice.objects.order_by("pk").values_list("number", flat=True)) == [
        "INV-000001",
        "INV-000002",
    ]
    assert InvoiceSequence.objects.get(name="INV").last == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("committed_catalog")
def test_an_invoice_waits_for_the_open_transaction_holding_the_series_and_takes_its_number():
    """Two tenants: while one transaction holds a number, another tenant's invoice waits on the
    series' row lock; when the first rolls back, the waiting invoice gets that very number."""
    holder_tenant, waiter_tenant = _tenants(2)
    _issue(holder_tenant)  # INV-000001, committed: the series row exists
    held, release = threading.Event(), threading.Event()
    numbers = {}

    def hold_then_roll_back():
        try:
            with transaction.atomic():
                numbers["held"] = invoice_create(tenant=holder_tenant, lines=_lines()).number
                held.set()
                assert release.wait(timeout=30)
                raise Rollback
        except Rollback:
            pass

    def wait_then_issue():
        assert held.wait(timeout=30)
        numbers["waiter"] = _issue(waiter_tenant)

    errors = []
    threads = [
        threading.Thread(target=_closing(hold_then_roll_back, errors)),
        threading.Thread(target=_closing(wait_then_issue, errors)),
    ]
    for thread in threads:
        thread.start()
    try:
        assert held.wait(timeout=30)
        assert _waiting_on_a_lock(), "the second invoice did not wait for the series' lock"
        assert "waiter" not in numbers
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert numbers == {"held": "INV-000002", "waiter": "INV-000002"}
    assert Invoice.objects.get(number="INV-000002").tenant == waiter_tenant
    assert _issue(holder_tenant) == "INV-000003"


@pytest.mark.django_db
def test_the_series_is_named_by_the_setting_and_each_series_counts_on_its_own(settings):
    tenant = TenantFactory()
    InvoiceSequence.objects.update_or_create(name="INV", defaults={"last": 7})
    settings.PORTAL_INVOICE_SERIES = "ACME"
    assert [_issue(tenant), _issue(tenant)] == ["ACME-000001", "ACME-000002"]
    settings.PORTAL_INVOICE_SERIES = "INV"
    assert _issue(tenant) == "INV-000008"
