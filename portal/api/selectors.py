import datetime as dt
import hashlib
import time

from django.conf import settings

from portal.models import ApiToken, ApiTokenFailure, Membership, Tenant
from portal.signin import API_TOKENS, LIST_MAX, SignInLockout

TOKEN_PREFIX = "pt_"  # noqa: S105 (a prefix, not a secret)

# Token guessing: this many invalid tokens from one client address within the window (which
# starts at the address's first failure) and every token request from that address is answered
# 429 until the window ends. Tokens carry 256 bits, so guessing one is hopeless anyway: the
# limit keeps a scanner from costing a lookup per try and makes it visible.


# What the tokens page offers, in days (never more than PORTAL_API_TOKEN_MAX_DAYS), and what a
# token gets when no lifetime is named.
TOKEN_LIFETIME_CHOICES = (7, 30, 90, 180, 365)
DEFAULT_TOKEN_DAYS = 90


def api_token_max_days() -> int:
    return settings.PORTAL_API_TOKEN_MAX_DAYS


def api_token_lifetime_choices() -> list[int]:
    """The lifetimes offered, in days: the usual ones up to the maximum, and the maximum."""
    longest = api_token_max_days()
    return sorted({days for days in TOKEN_LIFETIME_CHOICES if days <= longest} | {longest})


def api_token_default_days() -> int:
    return min(DEFAULT_TOKEN_DAYS, api_token_max_days())


def api_token_failure_limit() -> int:
    return settings.PORTAL_API_TOKEN_FAILURE_LIMIT


def api_token_failure_window() -> int:
    return settings.PORTAL_API_TOKEN_FAILURE_WINDOW_SECONDS


def real_seconds() -> int:
    """Now in real time, whole seconds since the epoch. Not portal.clock: the throttle holds
    back a real client, and the demo's fast clock would shrink its window to nothing."""
    return int(time.time())


def api_token_hash(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough: there is nothing to
    # brute-force, and every API request pays for this.
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The unrevoked token matching a presented bearer token, with its admin and tenant. Expired
    tokens are returned too: the caller answers them with their own code."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    return (
        ApiToken.objects.select_related("membership__tenant", "membership__user")
        .filter(key_hash=api_token_hash(raw), revoked_at__isnull=True)
        .first()
    )


def api_token_retry_after(*, address: str) -> int | None:
    """Seconds until `address` may present a token again, or None when it is not held back.
    One indexed read, made before any token is looked up."""
    row = (
        ApiTokenFailure.objects.filter(address=address[:100])
        .values_list("failures", "window_started")
        .first()
    )
    if row is None:
        return None
    failures, started = row
    remaining = started + api_token_failure_window() - real_seconds()
    if failures < api_token_failure_limit() or remaining <= 0:
        return None
    return remaining


def api_token_held_back():
    """Addresses held back now: at the limit within a window that has not ended."""
    return ApiTokenFailure.objects.filter(
        failures__gte=api_token_failure_limit(),
        window_started__gt=real_seconds() - api_token_failure_window(),
    )


def api_token_lockout_list(*, address: str | None = None) -> list[SignInLockout]:
    """Every address the API holds back now for token guessing (or only `address`), latest
    first. Service-wide: for the support console only."""
    rows = api_token_held_back().order_by("-window_started")
    if address is not None:
        rows = rows.filter(address=address[:100])

    def moment(seconds: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)

    window = api_token_failure_window()
    return [
        SignInLockout(
            kind=API_TOKENS,
            subject=row.address,
            failures=row.failures,
            since=moment(row.window_started),
            until=moment(row.window_started + window),
        )
        for row in rows[:LIST_MAX]
    ]


def api_token_list(*, tenant: Tenant, membership: Membership | None = None):
    """The tenant's tokens, or only one admin's."""
    tokens = ApiToken.objects.filter(membership__tenant=tenant).select_related(
        "membership__user", "revoked_by"
    )
    if membership is not None:
        tokens = tokens.filter(membership=membership)
    return tokens


def api_token_get(*, tenant: Tenant, pk: int) -> ApiToken | None:
    return (
        ApiToken.objects.filter(membership__tenant=tenant, pk=pk)
        .select_related("membership__user")
        .first()
    )


def membership_get(*, tenant: Tenant, user) -> Membership | None:
    return Membership.objects.filter(tenant=tenant, user=user).first()
