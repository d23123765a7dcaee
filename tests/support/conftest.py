import datetime as dt
from contextlib import contextmanager
from types import SimpleNamespace
from unittest import mock

import pytest
from django.utils import timezone

from portal.models import Role
from portal.selectors import TenantAccess
from upgrades import engine, services

from ..factories import (
    BillingProfileFactory,
    MembershipFactory,
    SubscriptionFactory,
    TenantFactory,
    UserFactory,
    product,
    users_with_licenses,
)


def upgrade_tenant(*, users=10, card_token="tok_visa"):  # noqa: S107 (simulated card)
    tenant = TenantFactory()
    BillingProfileFactory(tenant=tenant, card_token=card_token)
    admin = UserFactory()
    MembershipFactory(user=admin, tenant=tenant, role=Role.GLOBAL_ADMIN)
    e4 = SubscriptionFactory(
        tenant=tenant,
        product=product("O365_E4"),
        quantity=users,
        ready_at=timezone.now() - dt.timedelta(hours=1),
    )
    people = users_with_licenses(e4, users)
    return SimpleNamespace(tenant=tenant, e4=e4, admin=admin, users=people)


def place(t, *, target="O365_E5"):
    """Cart, checkout and place order through the upgrades services, as the pages do."""
    access = TenantAccess(user=t.admin, tenant=t.tenant, role=Role.GLOBAL_ADMIN)
    cart = services.upgrade_cart_create(access=access, source=t.e4, target_code=target)
    cart = services.upgrade_checkout_open(cart=cart, actor=t.admin)
    return services.upgrade_place(
        tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
    )


@pytest.fixture
def worker(django_capture_on_commit_callbacks):
    """Stands in for the Celery worker: `with worker():` runs, when the block ends, the tasks
    queued on commit inside it, by calling the engine (which is all the task does).
    `worker.delay` records the calls."""

    def advance(run_id):
        engine.run_advance(run_id=run_id)

    delay = mock.Mock(side_effect=advance)

    @contextmanager
    def run_queued_tasks():
        with (
            mock.patch("upgrades.services.run_advance_send", delay),
            django_capture_on_commit_callbacks(execute=True),
        ):
            yield

    run_queued_tasks.delay = delay
    return run_queued_tasks


@pytest.fixture
def support(support_client):
    """(client, user) of a signed-in support engineer."""
    return SimpleNamespace(client=support_client, user=UserFactory(username="support@test"))
