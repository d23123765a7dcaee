"""What the API accepts: strict JSON types, no unknown fields, JSON objects as bodies, plain
digits in query strings; everything else is 400 with a code and the offending fields. Bodies
are UTF-8 JSON sent as application/json, nested at most PORTAL_API_MAX_JSON_DEPTH deep, with
no key twice, no NaN and no number too large for any field."""

import json
from types import SimpleNamespace

import pytest
from django.conf import settings

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

    # Well-formed: looked up, and there is no such subscription (as for any id not the
    # tenant's: 404, the answer the same id gets in a path).
    assert response.status_code == 404, response.content
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
    [b"", b"null", b"[]", b'"a@b.test"', b"12", b"true", b"{not json", b"\xff\xfe", b"[1,]"],
)
def test_a_body_that_is_not_a_json_object_is_invalid_json(api, raw):
    response = api.client.post(api.url("licenses/assign"), raw, content_type="application/json")

    _assert_400(response, "invalid_json")


def test_a_missing_idempotency_key_is_answered_before_a_broken_body(api):
    for raw in [b"{broken", b"[]", b'{"coupon": 1}', b"[" * 5000, b'{"a": 1, "a": 2}']:
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


# --- Limits and hostile JSON -------------------------------------------------------------------

BODY_OPERATIONS = ["licenses/assign", "licenses/unassign", "licenses/replace", "upgrades"]


def _post_raw(api, path, raw, content_type="application/json"):
    return api.client.post(
        api.url(path), raw, content_type=content_type, headers={"Idempotency-Key": "k-1"}
    )


def _nested(depth: int, opener=b"[", closer=b"]", inner=b"1") -> bytes:
    return opener * depth + inner + closer * depth


@pytest.mark.parametrize("path", BODY_OPERATIONS)
@pytest.mark.parametrize(
    "raw",
    [
        # The issue's body: 5,000 levels in about 35 KB.
        b'{"subscription_id": 1, "users": ' + _nested(5000, b'[{"a":', b"}]") + b"}",
        _nested(5000),
        _nested(5000, b'{"a":', b"}"),
        b"[" * 100_000,  # never closed
    ],
    ids=["issue", "arrays", "objects", "unclosed"],
)
def test_a_deeply_nested_body_is_400_json_too_deep(api, path, raw):
    body = _assert_400(_post_raw(api, path, raw), "json_too_deep")

    assert str(settings.PORTAL_API_MAX_JSON_DEPTH) in body["message"]


def test_the_depth_is_checked_before_the_body_is_parsed(api, monkeypatch):
    # json.loads recurses once per level: handed such a body it exhausts the stack (on Python
    # 3.12+ it may even succeed, and the recursion error comes later, as a 500).
    def never(*args, **kwargs):
        raise AssertionError("json.loads was called")

    monkeypatch.setattr("portal.api.fields.json", SimpleNamespace(loads=never))

    _assert_400(_post_raw(api, "licenses/assign", _nested(5000)), "json_too_deep")


def test_nesting_up_to_the_limit_is_parsed_and_one_more_level_is_refused(api, settings):
    settings.PORTAL_API_MAX_JSON_DEPTH = 5
    # The body object is level 1: the arrays of users are levels 2 and up.
    at_limit = b'{"subscription_id": 1, "users": ' + _nested(4) + b"}"
    over = b'{"subscription_id": 1, "users": ' + _nested(5) + b"}"

    assert _assert_400(_post_raw(api, "licenses/assign", at_limit))["details"]["field"] == "users"
    _assert_400(_post_raw(api, "licenses/assign", over), "json_too_deep")


def test_brackets_inside_strings_are_not_nesting(api, e5):
    upn = "[[[[{{{{" * 20 + '\\"' + "]]]]"

    response = api.post("licenses/assign", {"subscription_id": e5.pk, "users": [upn[:200]]})

    assert response.status_code == 422, response.content  # parsed: the user is unknown
    assert response.json()["code"] == "unknown_users"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"subscription_id": 1, "subscription_id": 2, "users": ["a@b.test"]}',
        b'{"subscription_id": 1, "users": [{"x": 1, "x": 1}]}',
    ],
)
def test_a_key_named_twice_in_an_object_is_400_duplicate_keys(api, raw):
    body = _assert_400(_post_raw(api, "licenses/assign", raw), "duplicate_keys")

    assert "subscription_id" in body["message"] or "x" in body["message"]


@pytest.mark.parametrize(
    "number",
    [b"9" * 10_000, b"1" + b"0" * 100, b"-" + b"9" * 5000, b"1e999", b"-1e999", b"0." + b"1" * 200],
)
def test_a_number_too_large_for_any_field_is_400_number_too_large(api, number):
    raw = b'{"subscription_id": ' + number + b', "users": ["a@b.test"]}'

    _assert_400(_post_raw(api, "licenses/assign", raw), "number_too_large")


def test_a_large_number_within_reason_is_refused_by_its_field(api):
    raw = b'{"subscription_id": ' + b"9" * 30 + b', "users": ["a@b.test"]}'

    body = _assert_400(_post_raw(api, "licenses/assign", raw))

    assert body["details"]["field"] == "subscription_id"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(api, literal):
    raw = b'{"subscription_id": ' + literal + b', "users": ["a@b.test"]}'

    body = _assert_400(_post_raw(api, "licenses/assign", raw), "invalid_json")

    assert literal.decode() in body["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"subscription_id": 1, "users": ["\\ud800@b.test"]}',
        b'{"subscription_id": 1, "users": ["a@b.test"], "\\udfff": 1}',
        b'{"subscription_id": 1, "users": ["\\ude00\\ud83d"]}',  # a pair in the wrong order
    ],
)
def test_a_lone_surrogate_is_400_invalid_json(api, raw):
    _assert_400(_post_raw(api, "licenses/assign", raw), "invalid_json")


def test_an_escaped_surrogate_pair_is_a_character(api, e5):
    raw = b'{"subscription_id": %d, "users": ["\\ud83d\\ude00@b.test"]}' % e5.pk

    response = _post_raw(api, "licenses/assign", raw)

    assert response.status_code == 422, response.content
    assert response.json()["details"]["users"] == ["\U0001f600@b.test"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"subscription_id": 1, "users": ["\xff@b.test"]}',
        b'{"subscription_id": 1, "users": ["\xed\xa0\x80@b.test"]}',  # a surrogate as UTF-8
        b'{"subscription_id": 1, "users": ["\xc0\xaf"]}',  # an overlong "/"
        '{"subscription_id": 1, "users": ["a@b.test"]}'.encode("utf-16"),
    ],
)
def test_a_body_that_is_not_utf8_is_400_invalid_json(api, raw):
    body = _assert_400(_post_raw(api, "licenses/assign", raw), "invalid_json")

    assert "UTF-8" in body["message"]


def test_a_leading_utf8_byte_order_mark_is_ignored(api, e5):
    person = DirectoryUserFactory(tenant=api.tenant)
    raw = b"\xef\xbb\xbf" + json.dumps({"subscription_id": e5.pk, "users": [person.upn]}).encode()

    response = _post_raw(api, "licenses/assign", raw)

    assert response.status_code == 200, response.content
    assert LicenseAssignment.objects.filter(subscription=e5, user=person).exists()


@pytest.mark.parametrize("path", BODY_OPERATIONS)
@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "application/xml",
        "",
    ],
)
def test_a_body_not_sent_as_json_is_415(api, path, content_type):
    raw = b'{"subscription_id": 1, "users": ["a@b.test"], "target": "O365_E5"}'

    response = _post_raw(api, path, raw, content_type=content_type)

    assert response.status_code == 415, response.content
    assert response.json()["code"] == "unsupported_media_type"


def test_json_with_a_charset_parameter_is_json(api, e5):
    person = DirectoryUserFactory(tenant=api.tenant)
    raw = json.dumps({"subscription_id": e5.pk, "users": [person.upn]}).encode()

    response = _post_raw(api, "licenses/assign", raw, "Application/JSON; charset=utf-8")

    assert response.status_code == 200, response.content


def test_a_body_over_the_size_limit_is_413_before_its_depth_is_looked_at(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = _post_raw(api, "licenses/assign", _nested(5000))

    assert response.status_code == 413, response.content
    assert response.json()["code"] == "request_too_large"


@pytest.mark.parametrize(
    "body",
    [
        # About 80 KB each: enough for a quadratic check to take many seconds.
        '"' + '\\"' * 40_000 + "\\",  # escaped quotes ending in a lone backslash
        '"' + '\\"' * 40_000,  # never terminated
        "[" + '"\\\\",' * 12_000 + "1]",  # many strings of escaped backslashes
    ],
    ids=["trailing-backslash", "unterminated", "many-strings"],
)
def test_the_nesting_check_is_linear_on_hostile_strings(body):
    """A check that is quadratic on some input is a denial of service: a body within the size
    limit must not hold a worker for hours. Each of these takes milliseconds (a quadratic scan
    took seconds); the bound is generous."""
    import time

    from portal.api.fields import json_nesting_exceeds

    started = time.perf_counter()
    assert not json_nesting_exceeds(body, 32)
    assert time.perf_counter() - started < 1.0
