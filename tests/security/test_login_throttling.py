"""Sign-in throttling (portal/signin.py over django-axes): an account and an address are each
refused for a cool-off after too many failed sign-ins, with a page that says when to retry;
support engineers list and lift lockouts; every failure and lockout is audited, never with the
password.

Time moves with `later`, which moves the real clock that both Django and axes read: the
lockout ends because its time passed, not because a row was removed."""

import datetime as dt

import axes.attempts
import axes.handlers.proxy
import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from portal.models import AuditEvent, Role
from portal.signin import client_address
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw"  # noqa: S105 (UserFactory's)
WRONG = "Wrong-guess-42!"  # noqa: S105
OFFICE = "198.51.100.7"
ELSEWHERE = "203.0.113.50"


def sign_in(username, password, *, address=OFFICE, client=None):
    """One sign-in through the form, from `address`, by a new browser unless one is given."""
    client = client or Client()
    response = client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )
    response.signed_in = "_auth_user_id" in client.session
    return response


def fail(username, times, *, address=OFFICE):
    return [sign_in(username, WRONG, address=address) for _ in range(times)]


@pytest.fixture
def alice():
    return UserFactory(username="alice@example.test")


@pytest.fixture
def later(monkeypatch):
    """later(timedelta) moves real time forward: django.utils.timezone.now (Django, axes'
    database handler, the attempt rows' own timestamps) and axes' imported `now` (the time of
    each attempt) read the same moved clock."""
    real_now = timezone.now
    offset = dt.timedelta()

    def now():
        return real_now() + offset

    monkeypatch.setattr(timezone, "now", now)
    monkeypatch.setattr(axes.handlers.proxy, "now", now)
    monkeypatch.setattr(axes.attempts, "now", now)

    def advance(delta: dt.timedelta):
        nonlocal offset
        offset += delta

    return advance


# --- The account ------------------------------------------------------------------------------


def test_four_wrong_passwords_leave_the_account_open(alice):
    responses = fail(alice.username, 4)

    assert [r.status_code for r in responses] == [200] * 4
    assert sign_in(alice.username, PASSWORD).signed_in


def test_the_sixth_sign_in_within_a_minute_is_refused_even_with_the_right_password(alice):
    fail(alice.username, 5)

    response = sign_in(alice.username, PASSWORD)

    assert response.status_code == 429
    assert not response.signed_in
    assert "Too many failed sign-ins for this account. Try again in 15 minutes." in (
        response.content.decode()
    )


def test_the_refusal_is_the_sign_in_page_with_retry_after(alice):
    fifth = fail(alice.username, 5)[-1]

    html = fifth.content.decode()
    assert fifth.status_code == 429
    assert 'name="password"' in html and f'value="{alice.username}"' in html
    assert 14 * 60 < int(fifth["Retry-After"]) <= 15 * 60
    assert "Content-Security-Policy" in fifth


def test_a_locked_account_is_refused_from_every_address(alice):
    fail(alice.username, 5, address=OFFICE)

    response = sign_in(alice.username, PASSWORD, address=ELSEWHERE)

    assert response.status_code == 429
    assert not response.signed_in


def test_the_lock_holds_until_the_cool_off_ends_and_says_so(alice, later):
    fail(alice.username, 5)
    later(dt.timedelta(minutes=14))

    response = sign_in(alice.username, PASSWORD)

    assert response.status_code == 429
    assert "Try again in 1 minute." in response.content.decode()


def test_the_account_signs_in_again_once_the_cool_off_has_passed(alice, later):
    fail(alice.username, 5)
    later(dt.timedelta(minutes=15, seconds=1))

    response = sign_in(alice.username, PASSWORD)

    assert response.status_code == 302
    assert response.signed_in


def test_attempts_while_locked_do_not_extend_the_lock(alice, later):
    fail(alice.username, 5)
    later(dt.timedelta(minutes=10))
    assert fail(alice.username, 3)[-1].status_code == 429
    later(dt.timedelta(minutes=5, seconds=1))

    assert sign_in(alice.username, PASSWORD).signed_in


def test_a_successful_sign_in_clears_the_accounts_failures(alice):
    fail(alice.username, 4)
    assert sign_in(alice.username, PASSWORD).signed_in

    fail(alice.username, 4)

    assert sign_in(alice.username, PASSWORD).signed_in


# --- The address --------------------------------------------------------------------------------


def test_the_address_limit_is_higher_than_the_account_limit():
    assert settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT > settings.AXES_FAILURE_LIMIT


def test_an_address_trying_many_accounts_is_locked_out(alice):
    for n in range(settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT):
        sign_in(f"guess{n}@example.test", WRONG)

    refused = sign_in(alice.username, PASSWORD, address=OFFICE)
    elsewhere = sign_in(alice.username, PASSWORD, address=ELSEWHERE)

    assert refused.status_code == 429
    assert "from your network address. Try again in 15 minutes." in refused.content.decode()
    assert not refused.signed_in
    assert elsewhere.signed_in


def test_requests_without_a_readable_address_are_not_locked_out_together(alice):
    """Behind a unix socket REMOTE_ADDR is empty: such requests have no address to count, and
    failures at many accounts must not add up to lock every one of them out."""
    for n in range(settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT + 2):
        sign_in(f"guess{n}@example.test", WRONG, address="")

    assert sign_in(alice.username, PASSWORD, address="").signed_in


def test_one_person_failing_does_not_lock_out_their_office(alice):
    colleague = UserFactory(username="bob@example.test")
    fail(alice.username, 5, address=OFFICE)

    assert sign_in(colleague.username, PASSWORD, address=OFFICE).signed_in


def test_signing_in_to_ones_own_account_does_not_clear_the_addresss_failures(alice):
    limit = settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT
    for n in range(limit - 1):
        sign_in(f"guess{n}@example.test", WRONG)
    assert sign_in(alice.username, PASSWORD).signed_in

    last_guess = sign_in("one-more@example.test", WRONG)

    assert last_guess.status_code == 429
    assert sign_in(alice.username, PASSWORD).status_code == 429


# --- The client address -------------------------------------------------------------------------


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored():
    request = RequestFactory().get("/", REMOTE_ADDR=OFFICE, HTTP_X_FORWARDED_FOR=ELSEWHERE)

    assert client_address(request) == OFFICE


@override_settings(PORTAL_TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_address_it_received_is_used_not_the_clients_claim():
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.1, {ELSEWHERE}"
    )

    assert client_address(request) == ELSEWHERE


@override_settings(PORTAL_TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_a_forwarded_value_that_is_no_address_is_not_trusted():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="x'; --")

    assert client_address(request) == "10.0.0.2"


# --- The audit trail ----------------------------------------------------------------------------


def test_a_failed_sign_in_is_audited_without_the_password(alice):
    sign_in(alice.username, WRONG)

    event = AuditEvent.objects.get(action="signin.fail")
    assert event.target == f"account:{alice.username}"
    assert event.data == {"username": alice.username, "address": OFFICE, "refused": False}
    assert event.tenant is None and event.actor is None
    stored = [str(vars(e)) for e in AuditEvent.objects.all()]
    stored += [str(vars(a)) for a in AccessAttempt.objects.all()]
    assert not [row for row in stored if WRONG in row]


def test_a_lockout_is_audited_once_and_refused_attempts_as_refused_failures(alice):
    fail(alice.username, 5)
    sign_in(alice.username, PASSWORD)
    sign_in(alice.username, WRONG)

    failures = AuditEvent.objects.filter(action="signin.fail").order_by("pk")
    lockout = AuditEvent.objects.get(action="signin.lockout")
    assert [e.data["refused"] for e in failures] == [False] * 5 + [True] * 2
    assert lockout.target == f"account:{alice.username}"
    assert lockout.data["kind"] == "account" and lockout.data["failures"] == 5
    assert dt.datetime.fromisoformat(lockout.data["until"]) > timezone.now()


def test_an_address_lockout_is_audited_as_the_addresss():
    for n in range(settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT):
        sign_in(f"guess{n}@example.test", WRONG)

    lockout = AuditEvent.objects.get(action="signin.lockout")

    assert lockout.target == f"address:{OFFICE}"
    assert lockout.data["kind"] == "address"


# --- Support ------------------------------------------------------------------------------------


@pytest.fixture
def support_user(support_client):
    return UserFactory(username="support@test")


def unlock(client, kind, subject, reason="Owner called, identity checked"):
    data = {"kind": kind, "subject": subject}
    if reason is not None:
        data["reason"] = reason
    return client.post(reverse("support_signin_unlock"), data)


def test_support_sees_each_lockout_with_its_failures_and_until(support_client, alice):
    fail(alice.username, 5, address=ELSEWHERE)
    for n in range(settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT):
        sign_in(f"guess{n}@example.test", WRONG)

    response = support_client.get(reverse("support_signin_lockouts"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-lockout="account:{alice.username}"' in html
    assert f'data-lockout="address:{OFFICE}"' in html
    assert 'name="subject" value="guess0@example.test"' not in html  # one failure: not locked
    assert html.count('action="/support/sign-in-lockouts/unlock/"') == 2


def test_support_unlocks_an_account_and_it_is_audited(support_client, support_user, alice):
    fail(alice.username, 5)

    response = unlock(support_client, "account", alice.username)

    assert response.status_code == 302
    assert sign_in(alice.username, PASSWORD).signed_in
    event = AuditEvent.objects.get(action="signin.unlock")
    assert event.actor == support_user
    assert event.target == f"account:{alice.username}"
    assert event.reason == "Owner called, identity checked"
    assert event.data["failures"] == 5


def test_support_unlocks_an_address(support_client, alice):
    for n in range(settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT):
        sign_in(f"guess{n}@example.test", WRONG)

    assert unlock(support_client, "address", OFFICE).status_code == 302

    assert sign_in(alice.username, PASSWORD).signed_in
    assert AuditEvent.objects.get(action="signin.unlock").target == f"address:{OFFICE}"


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_unlocking_without_a_reason_is_refused(support_client, alice, reason):
    fail(alice.username, 5)

    response = unlock(support_client, "account", alice.username, reason=reason)

    assert response.status_code == 400
    assert "Write a reason" in response.content.decode()
    assert sign_in(alice.username, PASSWORD).status_code == 429
    assert not AuditEvent.objects.filter(action="signin.unlock").exists()


@pytest.mark.parametrize(
    "kind, subject", [("account", "alice@example.test"), ("address", OFFICE), ("address", "x")]
)
def test_unlocking_what_is_not_locked_is_refused_and_writes_nothing(
    support_client, alice, kind, subject
):
    fail(alice.username, 2)

    response = unlock(support_client, kind, subject)

    assert response.status_code == 400
    assert "no such sign-in lockout" in response.content.decode()
    assert AccessAttempt.objects.get().failures_since_start == 2
    assert not AuditEvent.objects.filter(action="signin.unlock").exists()


@pytest.mark.parametrize("role", list(Role))
def test_a_tenant_admin_can_neither_see_nor_lift_lockouts(alice, role):
    admin = UserFactory()
    MembershipFactory(user=admin, tenant=TenantFactory(), role=role)
    client = Client()
    client.force_login(admin)
    fail(alice.username, 5)

    assert client.get(reverse("support_signin_lockouts")).status_code == 404
    assert unlock(client, "account", alice.username).status_code == 404
    assert sign_in(alice.username, PASSWORD).status_code == 429
    assert not AuditEvent.objects.filter(action="signin.unlock").exists()
