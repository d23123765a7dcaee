"""Sign-in throttling (django-axes, configured in the "Login throttling" block of
config/settings/base.py) and its audit trail.

Guarantees:
- An account (the user name typed, whether or not such an account exists, so a refusal tells
  nothing about which exist) that collects AXES_FAILURE_LIMIT failed sign-ins, from any
  addresses, each within the cool-off (AXES_COOLOFF_TIME) of the one before, is refused for the
  cool-off after its last counted failure, whatever password comes next.
- An address that collects PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT failed sign-ins over any accounts
  is refused the same way. Its limit is higher than an account's: an office behind one address
  is not locked out because one person there forgot a password, yet one address cannot try a
  few passwords on every account.
- A refusal is the sign-in page answered 429, with a Retry-After header and a message that says
  how long to wait; the password is never checked while refused.
- The decision is read from axes' AccessAttempt rows in the database that every web process
  shares (SQLite in the embedded demo, PostgreSQL in production): nothing in process memory.
  Failures made while refused are not counted, so hammering a locked account does not extend
  its lock (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off).
- A successful sign-in clears the account's failures, and only the account's.
- Every failed sign-in writes an audit event `signin.fail` and every lockout `signin.lockout`
  (tenant None, no actor: nobody is signed in); neither ever holds the password.

Times here are real time (django.utils.timezone.now, as axes uses), never the simulated
portal.clock: a demo clock sped up to pass days in minutes must not shorten a lockout.
"""

import datetime as dt
import ipaddress
import math
from collections import defaultdict
from dataclasses import dataclass

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db.models import Q, Sum
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext

from .services import audit_event_record

ACCOUNT = "account"
ADDRESS = "address"
# An address held back by the API for presenting too many invalid tokens
# (portal.api.selectors.api_token_lockout_list): listed and lifted beside sign-in lockouts.
API_TOKENS = "api_tokens"
KINDS = (ACCOUNT, ADDRESS)

# Audit targets are at most 120 characters; Django's user names at most 150.
TARGET_MAX = 120
USERNAME_MAX = 150

# At most this many lockouts are listed in the support console (the most recent first).
LIST_MAX = 200


# --- Who is locked out ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInLockout:
    """One account or address refused sign-in now: `failures` counted within the cool-off,
    `since` the counted failure that locked it, `until` when sign-in is allowed again."""

    kind: str  # ACCOUNT, ADDRESS or API_TOKENS
    subject: str  # the user name or the address
    failures: int
    since: dt.datetime
    until: dt.datetime

    @property
    def target(self) -> str:
        return f"{self.kind}:{self.subject}"[:TARGET_MAX]


def failure_limits() -> dict[str, int]:
    return {
        ACCOUNT: settings.AXES_FAILURE_LIMIT,
        ADDRESS: settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT,
    }


def _counted(now: dt.datetime):
    """The attempts that still count: axes forgets a row a cool-off after its last failure."""
    return AccessAttempt.objects.filter(attempt_time__gte=now - get_cool_off())


def _lockout(kind: str, subject: str, rows: list, *, limit: int) -> SignInLockout | None:
    """The lockout of one subject from its counted rows, (attempt_time, failures) newest first.
    Each row stops counting a cool-off after its own last failure, so the lockout lasts until
    the row whose failures bring the newest ones up to the limit expires."""
    total = 0
    for attempt_time, failures in rows:
        total += failures
        if total >= limit:
            return SignInLockout(
                kind=kind,
                subject=subject,
                failures=sum(f for _, f in rows),
                # Refused attempts are not recorded, so the newest failure is the one that
                # reached the limit.
                since=rows[0][0],
                until=attempt_time + get_cool_off(),
            )
    return None


def _lockouts(rows, *, accounts, addresses) -> list[SignInLockout]:
    """The lockouts among the given accounts and addresses, from counted rows
    (username, ip_address, attempt_time, failures) newest first."""
    by_subject = defaultdict(list)
    for username, address, attempt_time, failures in rows:
        if username in accounts:
            by_subject[ACCOUNT, username].append((attempt_time, failures))
        if address in addresses:
            by_subject[ADDRESS, address].append((attempt_time, failures))
    limits = failure_limits()
    found = (
        _lockout(kind, subject, subject_rows, limit=limits[kind])
        for (kind, subject), subject_rows in by_subject.items()
    )
    return sorted((lockout for lockout in found if lockout), key=lambda x: x.since, reverse=True)


def _rows(queryset):
    return queryset.order_by("-attempt_time", "-pk").values_list(
        "username", "ip_address", "attempt_time", "failures_since_start"
    )


def signin_lockouts_for(
    *, username: str | None = None, address: str | None = None, now: dt.datetime | None = None
) -> list[SignInLockout]:
    """The lockouts that refuse this account or this address now (none, one or both)."""
    now = now or timezone.now()
    accounts = {username} - {None}
    addresses = {address} - {None}
    if not accounts and not addresses:
        return []
    rows = _counted(now).filter(Q(username__in=accounts) | Q(ip_address__in=addresses))
    return _lockouts(_rows(rows), accounts=accounts, addresses=addresses)


def signin_lockout_list(*, now: dt.datetime | None = None) -> list[SignInLockout]:
    """Every account and address refused sign-in now, most recently locked first (at most
    LIST_MAX). Service-wide: for the support console only."""
    now = now or timezone.now()
    limits = failure_limits()
    counted = _counted(now)

    def over_limit(field, limit):
        totals = (
            counted.exclude(**{field: None})
            .values(field)
            .annotate(total=Sum("failures_since_start"))
            .filter(total__gte=limit)
            .order_by()
        )
        return set(totals.values_list(field, flat=True)[:LIST_MAX])

    accounts = over_limit("username", limits[ACCOUNT])
    addresses = over_limit("ip_address", limits[ADDRESS])
    if not accounts and not addresses:
        return []
    rows = counted.filter(Q(username__in=accounts) | Q(ip_address__in=addresses))
    return _lockouts(_rows(rows), accounts=accounts, addresses=addresses)[:LIST_MAX]


# --- The axes handler ---------------------------------------------------------------------------


class SignInThrottleHandler(AxesDatabaseHandler):
    """axes' database handler with two limits instead of one. Axes compares the highest count
    over its lockout parameters (user name, address) with a single AXES_FAILURE_LIMIT; here the
    account's failures meet AXES_FAILURE_LIMIT and the address's failures their own, higher
    PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT. Everything else (recording failures, forgetting them
    after the cool-off, the lockout signal) is axes' own."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """The failures axes compares with AXES_FAILURE_LIMIT: the account's, or the limit
        itself once the address has reached its own limit. One query."""
        username = get_client_username(request, credentials)
        counts = AccessAttempt.objects.filter(
            attempt_time__gte=get_cool_off_threshold(request)
        ).aggregate(
            account=Sum("failures_since_start", filter=Q(username=username)),
            address=Sum("failures_since_start", filter=Q(ip_address=request.axes_ip_address)),
        )
        account = (counts["account"] or 0) if username is not None else 0
        # No readable address (a unix socket, say) is no address: counting every such request
        # together would let 20 failures anywhere lock everyone out, with nothing to unlock.
        address = (counts["address"] or 0) if request.axes_ip_address is not None else 0
        if address >= settings.PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(account, get_failure_limit(request, credentials))
        return account

    def is_allowed(self, request, credentials: dict | None = None) -> bool:
        allowed = super().is_allowed(request, credentials)
        # Asked once per sign-in, before the password is checked: the audit receivers tell a
        # refused attempt from a wrong password by it.
        request.signin_refused = not allowed
        return allowed

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """After a successful sign-in (AXES_RESET_ON_SUCCESS): the account's failures, from
        every address, and nothing else. Axes would clear the address's failures too, which
        would let someone holding one valid account wipe their address's count by signing in
        to it between guesses at other accounts."""
        username = get_client_username(request, credentials)
        if not username:
            return 0  # axes' reset_attempts with no filter would clear every row
        return self.reset_attempts(username=username)


def client_address(request) -> str | None:
    """The client's address for both throttles (AXES_CLIENT_IP_CALLABLE; the API token
    throttle reads it through axes too). REMOTE_ADDR, unless PORTAL_TRUSTED_PROXY_COUNT reverse
    proxies stand in front of the portal: then the address the outermost of them saw, which is
    that many entries from the right of X-Forwarded-For (each proxy appends the address it
    received the request from; whatever a client wrote further left is its own claim and is
    ignored). A header with fewer entries did not come through the proxies, and an entry that
    is no IP address is not trusted: REMOTE_ADDR then."""
    remote = address_normalized(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.PORTAL_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        if len(forwarded) >= proxies:
            return address_normalized(forwarded[-proxies]) or remote
    return remote


def address_normalized(value: str) -> str | None:
    """An IP address as the database stores it, or None for anything that is not one."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


# --- The refusal --------------------------------------------------------------------------------


def _retry_message(lockout: SignInLockout | None, minutes: int) -> str:
    if lockout is not None and lockout.kind == ACCOUNT:
        return ngettext(
            "Too many failed sign-ins for this account. Try again in %(minutes)d minute.",
            "Too many failed sign-ins for this account. Try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    if lockout is not None and lockout.kind == ADDRESS:
        return ngettext(
            "Too many failed sign-ins from your network address. Try again in %(minutes)d minute.",
            "Too many failed sign-ins from your network address. Try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}
    return ngettext(
        "Too many failed sign-ins. Try again in %(minutes)d minute.",
        "Too many failed sign-ins. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in page again, answered 429, saying which lock holds
    (the account's or the address's, whichever ends last) and for how long, with Retry-After
    in seconds. The message rounds up to whole minutes, so waiting that long is always
    enough."""
    now = timezone.now()
    username = get_client_username(request, credentials) if credentials else None
    username = _clean_username(username or request.POST.get("username"))
    lockouts = signin_lockouts_for(
        username=username, address=getattr(request, "axes_ip_address", None), now=now
    )
    lockout = max(lockouts, key=lambda x: x.until, default=None)
    until = lockout.until if lockout else now + get_cool_off()
    # Whole seconds: the row is written a moment after the request began, which must not turn
    # "15 minutes" into "16 minutes".
    seconds = max(1, int((until - now).total_seconds()))
    minutes = max(1, math.ceil(seconds / 60))
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    response = render(
        request,
        "registration/login.html",
        {
            "form": AuthenticationForm(request, initial={"username": username or ""}),
            "lockout": _retry_message(lockout, minutes),
            "next": next_url,
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


# --- The audit trail ----------------------------------------------------------------------------


def _clean_username(username) -> str | None:
    if username is None:
        return None
    # NUL cannot be stored by PostgreSQL; a user name is at most 150 characters.
    return str(username).replace("\x00", "")[:USERNAME_MAX]


def _signin_failed(sender, credentials=None, request=None, **kwargs):
    """Every failed sign-in, the refused ones included. Django has already masked the
    password in `credentials`; only the user name is kept."""
    username = _clean_username(get_client_username(request, credentials) if credentials else None)
    address = getattr(request, "axes_ip_address", None)
    refused = bool(getattr(request, "signin_refused", False))
    audit_event_record(
        tenant=None,
        actor=None,
        action="signin.fail",
        target=f"{ACCOUNT}:{username or ''}"[:TARGET_MAX],
        data={"username": username, "address": address, "refused": refused},
    )


def _signin_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    """A lockout begins. Axes sends this signal again for every attempt refused while locked;
    those are audited as refused failures (signin.fail), not as new lockouts."""
    if getattr(request, "signin_refused", False):
        return
    username = _clean_username(username)
    lockouts = signin_lockouts_for(username=username, address=ip_address) or [None]
    for lockout in lockouts:
        data = {"username": username, "address": ip_address}
        if lockout is not None:
            data |= {
                "kind": lockout.kind,
                "failures": lockout.failures,
                "until": lockout.until.isoformat(),
            }
        audit_event_record(
            tenant=None,
            actor=None,
            action="signin.lockout",
            target=lockout.target if lockout else f"{ACCOUNT}:{username or ''}"[:TARGET_MAX],
            data=data,
        )


def receivers_connect() -> None:
    """Called once from PortalConfig.ready(). Axes connects its own receivers first (it comes
    first in INSTALLED_APPS), so a failure is counted before it is audited."""
    user_login_failed.connect(_signin_failed, dispatch_uid="portal.signin.failed")
    user_locked_out.connect(_signin_locked_out, dispatch_uid="portal.signin.locked_out")
