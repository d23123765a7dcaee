"""Bad input gets a clear answer and changes nothing: garbage in query strings, ids and form
fields of the billing and Users pages is a 4xx or a page with a message, never a server error."""

import pytest
from django.urls import reverse

from billing.models import Invoice, Order, Subscription
from licensing.models import LicenseAssignment

from ..factories import SubscriptionFactory, TenantFactory, users_with_licenses

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"
NUL = "a\x00b"


@pytest.fixture
def page(tenant, admin_for):
    client, _ = admin_for(tenant)
    client.raise_request_exception = False
    e4 = SubscriptionFactory(tenant=tenant, quantity=12)
    users_with_licenses(e4, 3)
    other = SubscriptionFactory(tenant=TenantFactory(), quantity=5)
    return client, tenant, e4, other


def _state():
    return (
        list(Subscription.objects.order_by("pk").values_list("pk", "quantity", "status")),
        LicenseAssignment.objects.count(),
        Order.objects.count(),
        Invoice.objects.count(),
    )


# (method, url name, takes the subscription id, data, expected status)
CASES = [
    ("get", "products", False, {"status": "xyz"}, 200),
    ("get", "products", False, {"status": NUL}, 200),
    ("get", "subscription_detail", True, {"tab": "xyz"}, 200),
    ("get", "purchase_start", False, {"parent": "abc"}, 404),
    ("get", "purchase_start", False, {"parent": HUGE}, 404),
    ("get", "purchase_start", False, {"parent": "-1"}, 404),
    ("post", "purchase_start", False, {"parent": "abc", "product": "O365_E5"}, 404),
    ("post", "purchase_start", False, {"product": "O365_E5", "quantity": HUGE}, 400),
    ("post", "purchase_start", False, {"product": NUL, "quantity": "-3"}, 400),
    ("post", "purchase_place", False, {"idempotency_key": NUL, "payment_method": "card"}, 302),
    ("post", "purchase_place", False, {"idempotency_key": "k" * 500}, 302),
    ("post", "purchase_place", False, {}, 302),
    ("post", "subscription_licenses_add", True, {"add-count": HUGE}, 400),
    ("post", "subscription_licenses_add", True, {"add-count": "-1"}, 400),
    ("post", "subscription_licenses_remove", True, {"remove-count": "abc"}, 400),
    ("post", "subscription_cancel", True, {"reason": NUL, "confirm": "on"}, 400),
    ("post", "billed_to_edit", False, {"country": NUL}, 400),
    ("get", "users", False, {"after": "garbage", "before": HUGE}, 200),
    ("get", "users", False, {"after": HUGE}, 200),
    ("get", "users", False, {"q": NUL}, 200),
    ("get", "users", False, {"q": "%_\\" * 100}, 200),
    (
        "post",
        "users_licenses",
        False,
        {"action": "assign", "users": [HUGE], "assign_to": HUGE},
        # No such subscription or user in the tenant: not found, as any id not the tenant's.
        404,
    ),
    ("post", "users_licenses", False, {"action": "replace", "users": ["1", "x"]}, 400),
    ("post", "users_licenses", False, {"action": "unassign", "users": ["1"], "q": NUL}, 400),
    ("post", "users_licenses", False, {"action": "nope"}, 400),
]


@pytest.mark.parametrize(("method", "name", "with_id", "data", "expected"), CASES)
def test_garbage_is_refused_without_a_server_error_and_changes_nothing(
    page, method, name, with_id, data, expected
):
    client, tenant, e4, _other = page
    before = _state()
    args = [tenant.slug, e4.pk] if with_id else [tenant.slug]
    response = getattr(client, method)(reverse(name, args=args), data)
    assert response.status_code == expected
    assert _state() == before


def test_search_with_a_nul_byte_searches_for_the_rest(page):
    client, tenant, _e4, _other = page
    response = client.get(reverse("users", args=[tenant.slug]), {"q": "User 00000\x001"})
    assert [u.display_name for u in response.context["users"]] == ["User 000001"]


def test_an_add_on_for_another_tenants_subscription_is_not_found(page):
    client, tenant, _e4, other = page
    response = client.get(reverse("purchase_start", args=[tenant.slug]), {"parent": other.pk})
    assert response.status_code == 404
