"""What the API accepts: strict JSON types, no unknown fields, JSON objects as bodies, plain
digits in query strings; everything else is 400 with a code and the offending fields."""

import pytest

from licensing.models import LicenseAssignment
from upgrades.models import UpgradeRun

from ..factories import DirectoryUserFactory, SubscriptionFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db


def _assert_400(response, code="invalid_request"):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    return body


@pytest.fixture
def e5(tenant):
    return SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)


# --- Unknown fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("licenses/assign", {"subscription_id": 1, "users": ["a@b.test"], "zz": 1, "aa": 2}),
        ("licenses/unassign", {"subscription_id": 1, "users": ["a@b.test"], "aa": 1, "zz": 2}),
        ("licenses/replace", {"source_id": 1, "target_id": 2, "users": ["a"], "zz": 1, "aa": 2}),
    ],
)
def test_an_unknown_field_is_400_naming_the_fields(api, path, body):
    body = _assert_400(api.post(path, body))

    assert body["details"]["fields"] == ["aa", "zz"]
    assert "aa, zz" in body["message"]


def test_an_unknown_field_refuses_an_upgrade(api, e5):
    response = api.post(
        "upgrades",
        {"subscription_id": e5.pk, "target": "O365_E5", "coupon": "FREE"},
        **{"Idempotency-Key": "k-1"},
    )

    assert _assert_400(response)["details"]["fields"] == ["coupon"]
    assert not UpgradeRun.objects.exists()


# --- Strict types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subscription_id": True, "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": False, "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": "1", "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": 1.0, "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": 0, "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": -1, "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": 2**63, "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": None, "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": [1], "users": ["a@b.test"]}, "subscription_id"),
        ({"subscription_id": 1, "users": [True]}, "users"),
        ({"subscription_id": 1, "users": ["a@b.test", 5]}, "users"),
        ({"subscription_id": 1, "users": {"a@b.test": 1}}, "users"),
        ({"subscription_id": 1, "users": ["x" * 201]}, "users"),
        ({"subscription_id": 1, "users": ["tab\tin@b.test"]}, "users"),
        ({"subscription_id": 1, "users": ["del\x7f@b.test"]}, "users"),
        ({"subscription_id": 1, "users": [""]}, "users"),
        ({"subscription_id": 1, "users": ["a@b.test"] * 50_001}, "users"),
    ],
)
def test_bodies_are_strictly_typed(api, body, field):
    body = _assert_400(api.post("licenses/assign", body))

    assert body["details"]["field"] == field
    assert field in body["details"]["fields"]
    assert body["details"]["errors"][0]["field"].startswith(field)


def test_the_largest_id_is_an_id(api):
    person = DirectoryUserFactory(tenant=api.tenant)

    response = api.post("licenses/assign", {"subscription_id": 2**63 - 1, "users": [person.upn]})

    assert response.status_code == 422  # well-formed; no such subscription
    assert response.json()["code"] == "not_found"


def test_user_principal_names_are_stripped_of_spaces(api, e5):
    person = DirectoryUserFactory(tenant=api.tenant)

    response = api.post(
        "licenses/assign", {"subscription_id": e5.pk, "users": [f"  {person.upn} "]}
    )

    assert response.status_code == 200, response.content
    assert LicenseAssignment.objects.filter(subscription=e5, user=person).exists()


def test_every_error_of_a_body_is_listed_with_its_place(api):
    body = _assert_400(api.post("licenses/replace", {"source_id": "1", "users": ["ok", 7]}))

    assert body["details"]["fields"] == ["source_id", "target_id", "users"]
    assert [e["field"] for e in body["details"]["errors"]] == ["source_id", "target_id", "users.1"]


@pytest.mark.parametrize(
    "extra",
    [
        {"subscription_id": "1"},
        {"subscription_id": True},
        {"subscription_id": 2**63},
        {"quantity": "12"},
        {"quantity": True},
        {"quantity": 12.0},
        {"quantity": 0},
        {"quantity": 1_000_001},
        {"billing_frequency": "weekly"},
        {"billing_frequency": 12},
        {"payment_method": "cash"},
        {"po_number": 5},
        {"po_number": "x" * 61},
        {"po_number": "line\nbreak"},
        {"target": 5},
        {"target": "x" * 41},
    ],
)
def test_an_upgrade_order_is_strictly_typed(api, e5, extra):
    response = api.post(
        "upgrades",
        {"subscription_id": e5.pk, "target": "O365_E5", **extra},
        **{"Idempotency-Key": "k-1"},
    )

    assert _assert_400(response)["details"]["field"] == next(iter(extra))
    assert not UpgradeRun.objects.exists()


# --- Bodies that are not JSON objects ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"null", b"[]", b'"a@b.test"', b"12", b"true", b"{not json", b"\xff\xfe", b"[" * 50_000],
)
def test_a_body_that_is_not_a_json_object_is_invalid_json(api, raw):
    response = api.client.post(api.url("licenses/assign"), raw, content_type="application/json")

    _assert_400(response, "invalid_json")


def test_a_missing_idempotency_key_is_answered_before_a_broken_body(api):
    for raw in [b"{broken", b"[]", b'{"coupon": 1}']:
        response = api.client.post(api.url("upgrades"), raw, content_type="application/json")

        _assert_400(response, "idempotency_key_required")


@pytest.mark.parametrize("key", ["", "with space", "x" * 101, "naïve"])
def test_an_idempotency_key_must_be_1_to_100_visible_ascii_characters(api, e5, key):
    response = api.client.post(
        api.url("upgrades"),
        {"subscription_id": e5.pk, "target": "O365_E5"},
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )

    _assert_400(response, "idempotency_key_required")


# --- Query strings -----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["+5", " 5", "5.0", "1e2", "1_0", "٥", "0", "-1", "1001", "x"])
def test_a_query_number_is_plain_digits_within_its_bounds(api, e5, limit):
    body = _assert_400(api.get("licenses", subscription_id=e5.pk, limit=limit))

    assert body["details"]["field"] == "limit"


@pytest.mark.parametrize("value", ["true", "1.0", "0", str(2**63), "abc"])
def test_a_query_id_is_a_positive_bigint(api, value):
    body = _assert_400(api.get("licenses", subscription_id=value))

    assert body["details"]["field"] == "subscription_id"


def test_an_empty_query_parameter_counts_as_absent(api, tenant):
    e4 = SubscriptionFactory(tenant=tenant, product=product("O365_E4"))
    users_with_licenses(e4, 3)

    assert len(api.get("subscriptions", status="").json()["items"]) == 1
    page = api.get("licenses", subscription_id=e4.pk, after="", limit="")
    assert page.status_code == 200
    assert len(page.json()["items"]) == 3
    assert api.get("upgrades", state="", limit="").status_code == 200
    _assert_400(api.get("licenses", subscription_id=""))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("subscriptions", {"status": "ALL"}),
        ("subscriptions", {"status": "deleted"}),
        ("upgrades", {"state": "done"}),
        ("upgrades", {"limit": "101"}),
    ],
)
def test_a_choice_outside_the_choices_is_400(api, path, params):
    body = _assert_400(api.get(path, **params))

    assert body["details"]["field"] == next(iter(params))
