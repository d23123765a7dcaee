"""Token guessing: invalid tokens are counted per client address in the database; past the limit
within the window that address is answered 429 with Retry-After, before any token is looked
up, while other addresses and valid use go on as before."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import portal.api.auth
from portal.api.selectors import api_token_failure_limit, api_token_failure_window, real_seconds
from portal.api.services import api_token_failure_record
from portal.models import ApiTokenFailure, AuditEvent

pytestmark = pytest.mark.django_db

GUESSER = "203.0.113.7"
BYSTANDER = "198.51.100.20"


def _guess(tenant, address=GUESSER, token="pt_guess"):  # noqa: S107 (not a secret)
    client = Client(REMOTE_ADDR=address, headers={"Authorization": f"Bearer {token}"})
    return client.get(f"/api/v1/tenants/{tenant.slug}/subscriptions")


def _as(api, address):
    client = Client(REMOTE_ADDR=address, headers={"Authorization": f"Bearer {api.token}"})
    return client.get(api.url("subscriptions"))


def _exhaust(tenant, address=GUESSER):
    for _ in range(api_token_failure_limit()):
        assert _guess(tenant, address).json()["code"] == "invalid_token"


def test_guesses_under_the_limit_are_answered_401(tenant):
    for _ in range(api_token_failure_limit()):
        response = _guess(tenant)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"


def test_the_guess_past_the_limit_is_answered_429_with_retry_after(tenant):
    _exhaust(tenant)

    response = _guess(tenant)

    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "too_many_requests" and body["message"]
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= api_token_failure_window()
    assert body["details"] == {"retry_after": retry_after}


def test_a_held_back_address_is_refused_before_any_token_is_looked_up(tenant, api, monkeypatch):
    _exhaust(tenant)

    def looked_up(**kwargs):
        raise AssertionError("the token was looked up")

    monkeypatch.setattr(portal.api.auth, "api_token_authenticate", looked_up)

    # Even a valid token, sent from the address that guessed.
    assert _as(api, GUESSER).status_code == 429


def test_a_valid_token_from_another_address_is_unaffected(tenant, api):
    _exhaust(tenant)
    assert _guess(tenant).status_code == 429

    assert _as(api, BYSTANDER).status_code == 200


def test_valid_use_is_not_counted(tenant, api):
    for _ in range(api_token_failure_limit() + 2):
        assert _as(api, GUESSER).status_code == 200

    assert not ApiTokenFailure.objects.exists()


def test_a_request_without_a_token_is_not_counted(tenant):
    Client(REMOTE_ADDR=GUESSER).get(f"/api/v1/tenants/{tenant.slug}/subscriptions")

    assert not ApiTokenFailure.objects.exists()


def test_a_revoked_token_counts_as_an_invalid_one(tenant, api):
    from portal.api.services import api_token_revoke
    from portal.models import ApiToken

    token = ApiToken.objects.get(membership__user=api.user)
    api_token_revoke(token=token, actor=api.user, actor_membership=token.membership)

    assert _as(api, GUESSER).json()["code"] == "invalid_token"

    assert ApiTokenFailure.objects.get(address=GUESSER).failures == 1


def test_each_failure_adds_one_to_the_addresss_row(tenant):
    for _ in range(3):
        _guess(tenant)
    _guess(tenant, BYSTANDER)

    assert ApiTokenFailure.objects.get(address=GUESSER).failures == 3
    assert ApiTokenFailure.objects.get(address=BYSTANDER).failures == 1


def test_when_the_window_has_passed_the_address_may_try_again(tenant):
    _exhaust(tenant)
    assert _guess(tenant).status_code == 429
    # The window started a whole window ago.
    ApiTokenFailure.objects.filter(address=GUESSER).update(
        window_started=real_seconds() - api_token_failure_window()
    )

    response = _guess(tenant)

    assert response.json()["code"] == "invalid_token"
    assert ApiTokenFailure.objects.get(address=GUESSER).failures == 1  # a new window


def test_a_new_window_clears_the_rows_of_addresses_whose_window_ended(tenant):
    _guess(tenant, BYSTANDER)
    ApiTokenFailure.objects.filter(address=BYSTANDER).update(
        window_started=real_seconds() - api_token_failure_window() - 5
    )

    _guess(tenant, GUESSER)

    assert list(ApiTokenFailure.objects.values_list("address", flat=True)) == [GUESSER]


def test_the_limit_and_window_follow_the_settings(tenant, settings):
    settings.PORTAL_API_TOKEN_FAILURE_LIMIT = 2
    settings.PORTAL_API_TOKEN_FAILURE_WINDOW_SECONDS = 600

    statuses = [_guess(tenant).status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


def test_counting_a_failure_is_one_statement(tenant):
    _guess(tenant)  # the address's row exists: the next count is an update of it

    with CaptureQueriesContext(connection) as queries:
        api_token_failure_record(address=GUESSER)

    statements = [
        q["sql"] for q in queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert len(statements) == 1 and "ON CONFLICT" in statements[0]


def test_a_database_error_while_counting_is_still_answered_401(tenant, monkeypatch, caplog):
    # The upsert meets a database error (here: a table that does not exist) inside its own
    # savepoint; the request goes on on the same connection.
    missing = SimpleNamespace(_meta=SimpleNamespace(db_table="portal_no_such_table"))
    monkeypatch.setattr("portal.api.services.ApiTokenFailure", missing)

    with caplog.at_level("ERROR", logger="portal.api.services"):
        response = _guess(tenant)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert "Could not count" in caplog.text


def test_guesses_without_a_readable_address_are_not_held_back_together(tenant):
    for _ in range(api_token_failure_limit() + 2):
        assert _guess(tenant, address="").status_code == 401

    assert not ApiTokenFailure.objects.exists()


# --- Audited, and lifted by support ------------------------------------------------------------


def test_an_address_held_back_is_audited_once(tenant):
    _exhaust(tenant)
    _guess(tenant)
    _guess(tenant)

    events = AuditEvent.objects.filter(action="api_token.lockout")
    assert [(e.target, e.data["address"]) for e in events] == [(f"api_tokens:{GUESSER}", GUESSER)]
    assert "pt_guess" not in str(events[0].data)


def test_support_sees_an_address_held_back_by_the_api(tenant, support_client):
    _exhaust(tenant)

    page = support_client.get(reverse("support_signin_lockouts")).content.decode()

    assert f'data-lockout="api_tokens:{GUESSER}"' in page
    assert "Address (API tokens)" in page


def test_support_lifts_it_with_a_reason_and_the_address_may_try_again(tenant, support_client):
    _exhaust(tenant)
    assert _guess(tenant).status_code == 429

    response = support_client.post(
        reverse("support_signin_unlock"),
        {"kind": "api_tokens", "subject": GUESSER, "reason": "Customer rotated their CI secret"},
    )

    assert response.status_code == 302
    assert _guess(tenant).status_code == 401
    unlock = AuditEvent.objects.get(action="api_token.unlock")
    assert unlock.reason == "Customer rotated their CI secret"
    assert unlock.target == f"api_tokens:{GUESSER}"


def test_lifting_an_address_that_is_not_held_back_is_refused(tenant, support_client):
    _guess(tenant)  # one failure: counted, not held back

    response = support_client.post(
        reverse("support_signin_unlock"),
        {"kind": "api_tokens", "subject": GUESSER, "reason": "Just in case"},
    )

    assert response.status_code == 400
    assert ApiTokenFailure.objects.get(address=GUESSER).failures == 1
    assert not AuditEvent.objects.filter(action="api_token.unlock").exists()
