import pytest

from ..factories import SubscriptionFactory, TenantFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db


def test_subscriptions_list_their_addons_and_assigned_counts(api, tenant):
    e4 = SubscriptionFactory(tenant=tenant, product=product("O365_E4"), quantity=10)
    phone = SubscriptionFactory(tenant=tenant, product=product("PHONE_SYSTEM"), parent=e4)
    users_with_licenses(e4, 4)
    SubscriptionFactory(tenant=TenantFactory())

    body = api.get("subscriptions").json()

    assert [s["id"] for s in body["items"]] == [e4.pk]
    item = body["items"][0]
    assert item["product"]["code"] == "O365_E4"
    assert item["assigned"] == 4
    assert [a["id"] for a in item["addons"]] == [phone.pk]


def test_subscriptions_can_be_filtered_by_status(api, tenant):
    SubscriptionFactory(tenant=tenant, status="expired")

    assert api.get("subscriptions", status="active").json()["items"] == []
    assert len(api.get("subscriptions", status="expired").json()["items"]) == 1


def test_one_subscription(api, tenant):
    e4 = SubscriptionFactory(tenant=tenant)

    body = api.get(f"subscriptions/{e4.pk}").json()

    assert body["id"] == e4.pk
    assert body["addons"] == []


def test_the_list_costs_a_constant_number_of_queries(api, tenant, django_assert_max_num_queries):
    for _ in range(5):
        base = SubscriptionFactory(tenant=tenant)
        SubscriptionFactory(tenant=tenant, product=product("PHONE_SYSTEM"), parent=base)

    with django_assert_max_num_queries(8):
        assert api.get("subscriptions").status_code == 200


SUBSCRIPTION_KEYS = [
    "id",
    "product",
    "is_addon",
    "parent_id",
    "status",
    "quantity",
    "assigned",
    "billing_frequency",
    "channel",
    "is_trial",
    "is_prepaid",
    "offer",
    "recurring_billing",
    "paid_through",
    "status_since",
]


def test_a_subscription_keeps_its_fields_in_their_order(api, tenant):
    e4 = SubscriptionFactory(tenant=tenant, product=product("O365_E4"))
    phone = SubscriptionFactory(tenant=tenant, product=product("PHONE_SYSTEM"), parent=e4)

    listed = api.get("subscriptions").json()["items"][0]
    addon = api.get(f"subscriptions/{phone.pk}").json()

    assert list(listed) == [*SUBSCRIPTION_KEYS, "addons"]
    assert list(listed["addons"][0]) == SUBSCRIPTION_KEYS  # a nested add-on has no "addons"
    assert list(addon) == [*SUBSCRIPTION_KEYS, "addons"]
    assert addon["addons"] == []
    assert listed["status_since"] == e4.status_since.isoformat()
    assert listed["paid_through"] == e4.paid_through.isoformat()
