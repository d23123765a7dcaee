"""Writes of the API: tokens (created, revoked, used), the count of invalid tokens per client
address that holds back token guessing, and the idempotency of API writes."""

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from portal import clock
from portal.errors import DomainError
from portal.models import ApiIdempotencyKey, ApiToken, ApiTokenFailure, Membership, Role
from portal.roles import TokenScope, token_scopes_for_role, token_scopes_normalized
from portal.services import admin_lock_enforce, audit_event_record
from portal.signin import API_TOKENS, TARGET_MAX

from .selectors import (
    TOKEN_PREFIX,
    api_token_default_days,
    api_token_failure_limit,
    api_token_failure_window,
    api_token_hash,
    api_token_held_back,
    api_token_max_days,
    real_seconds,
)

log = logging.getLogger(__name__)

# A token's last use is recorded at most this often: the API should not write a row per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
MAX_ACTIVE_TOKENS = 10


def _checked_scopes(scopes: Iterable[str] | None, role: str) -> list[TokenScope]:
    """The scopes to store: read always; refused when one is unknown or beyond the role."""
    allowed = token_scopes_for_role(role)
    if scopes is None:
        return allowed
    scopes = [str(scope) for scope in scopes]
    unknown = sorted(set(scopes) - set(TokenScope.values))
    if unknown:
        raise DomainError(
            _("There is no token scope %(scopes)s.") % {"scopes": ", ".join(unknown)},
            code="unknown_scope",
        )
    chosen = token_scopes_normalized(scopes)
    beyond = [scope for scope in chosen if scope not in allowed]
    if beyond:
        raise DomainError(
            _("Your admin role does not allow a token with the scope %(scopes)s.")
            % {"scopes": ", ".join(str(scope.label) for scope in beyond)},
            code="scope_not_allowed",
        )
    return chosen


def _checked_days(days: int | None) -> int:
    if days is None:
        return api_token_default_days()
    longest = api_token_max_days()
    if days < 1:
        raise DomainError(_("A token must live at least one day."), code="expiry_invalid")
    if days > longest:
        raise DomainError(
            _("A token may live at most %(days)d days.") % {"days": longest},
            code="expiry_too_long",
        )
    return days


def api_token_create(
    *,
    membership: Membership,
    name: str,
    scopes: Iterable[str] | None = None,
    expires_in_days: int | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for the admin. Returns the row and the token itself, which is not
    stored and cannot be shown again.

    The token can always read; `scopes` adds what else it may do, each within the admin's role
    (a scope the role does not cover is refused, so a Global reader gets read tokens only).
    Without `scopes` the token gets every scope the role allows. It expires `expires_in_days`
    after now on the product's clock: at most PORTAL_API_TOKEN_MAX_DAYS, and
    selectors.DEFAULT_TOKEN_DAYS when not named."""
    name = name.strip()
    if not name:
        raise DomainError(_("Give the token a name."), code="name_required")
    days = _checked_days(expires_in_days)
    with transaction.atomic():
        # Lock the membership so two concurrent creations cannot both pass the limit, and read
        # the role it has now.
        locked = Membership.objects.select_for_update(of=("self",)).get(pk=membership.pk)
        chosen = _checked_scopes(scopes, locked.role)
        # The admin lock refuses a new token (a write like any other); revoking one is exempt.
        admin_lock_enforce(tenant=membership.tenant, actor=membership.user)
        # An expired token no longer counts: it can do nothing, and need not be revoked first.
        active = ApiToken.objects.filter(
            membership=membership, revoked_at__isnull=True, expires_at__gt=clock.now()
        ).count()
        if active >= MAX_ACTIVE_TOKENS:
            raise DomainError(
                _("You have %(count)d active tokens. Revoke one before creating another.")
                % {"count": active},
                code="too_many_tokens",
            )
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = clock.now()
        token = ApiToken.objects.create(
            membership=membership,
            name=name,
            prefix=raw[:10],
            key_hash=api_token_hash(raw),
            created_at=now,
            expires_at=now + dt.timedelta(days=days),
            scopes=[scope.value for scope in chosen],
        )
        audit_event_record(
            tenant=membership.tenant,
            actor=membership.user,
            action="api_token.create",
            target=f"api-token:{token.pk}",
            data={
                "name": name,
                "prefix": token.prefix,
                "scopes": token.scopes,
                "expires_at": token.expires_at.isoformat(),
            },
        )
    return token, raw


def api_token_revoke(*, token: ApiToken, actor, actor_membership: Membership | None) -> ApiToken:
    """An admin revokes one of their own tokens; a Global admin may revoke any of the tenant's.

    Not refused while an upgrade locks the tenant: an admin must be able to revoke a leaked
    token at any time, and revoking takes nothing from the run. The API reads the token at
    every request (nothing is cached), so the next request with it is refused."""
    owner = token.membership
    may = actor_membership is not None and (
        actor_membership.pk == owner.pk or actor_membership.role == Role.GLOBAL_ADMIN
    )
    if not may or actor_membership.tenant_id != owner.tenant_id:
        raise DomainError(_("You can revoke only your own tokens."), code="forbidden")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update(of=("self",)).get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = clock.now()
        token.revoked_by = actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_event_record(
            tenant=owner.tenant,
            actor=actor,
            action="api_token.revoke",
            target=f"api-token:{token.pk}",
            data={"name": token.name, "prefix": token.prefix, "owner": owner.user_id},
        )
    return token


def api_token_failure_record(*, address: str) -> None:
    """Count one invalid token presented from `address` (see selectors.api_token_retry_after).

    One INSERT ... ON CONFLICT DO UPDATE (PostgreSQL and SQLite alike) in its own transaction:
    concurrent failures from one address each add one, and a window that has ended starts
    again at 1. The first failure of a window also clears rows whose window has ended, so the
    table holds only addresses failing now. A database error here is logged and swallowed: the
    request is answered 401 all the same, never 500."""
    table = connection.ops.quote_name(ApiTokenFailure._meta.db_table)
    now = real_seconds()
    ended = now - api_token_failure_window()
    sql = (
        f"INSERT INTO {table} (address, window_started, failures) VALUES (%s, %s, 1) "  # noqa: S608 (quoted name)
        f"ON CONFLICT (address) DO UPDATE SET "
        f"failures = CASE WHEN {table}.window_started <= %s THEN 1 "
        f"ELSE {table}.failures + 1 END, "
        f"window_started = CASE WHEN {table}.window_started <= %s "
        f"THEN EXCLUDED.window_started ELSE {table}.window_started END "
        f"RETURNING failures"
    )
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [address[:100], now, ended, ended])
                (failures,) = cursor.fetchone()
            if failures == 1:
                ApiTokenFailure.objects.filter(window_started__lte=ended).delete()
            if failures == api_token_failure_limit():
                # The moment the address is held back, once per window (as sign-in lockouts).
                audit_event_record(
                    tenant=None,
                    actor=None,
                    action="api_token.lockout",
                    target=f"{API_TOKENS}:{address}"[:TARGET_MAX],
                    data={"address": address[:100], "failures": failures},
                )
    except DatabaseError:
        log.exception("Could not count an invalid API token from %s", address)


def api_token_lockout_lift(*, address: str) -> bool:
    """Let an address held back for token guessing present tokens again: its count is
    forgotten. False when it was not held back (any more). The caller owns the transaction
    and the audit event (support.services.support_signin_unlock)."""
    deleted, _rows = api_token_held_back().filter(address=address[:100]).delete()
    return deleted > 0


def api_token_touch(*, token: ApiToken, now: dt.datetime | None = None) -> None:
    """Record that the token was used (at most once per LAST_USED_RESOLUTION), at `now` on the
    product's clock (read here when not given)."""
    now = now or clock.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def idempotency_fingerprint(request, body: dict) -> str:
    """What an Idempotency-Key is bound to: the method, the path and the body (canonical JSON),
    so that the same key with another request is refused rather than replayed."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def api_idempotent_call(
    *, tenant, key: str, fingerprint: str, perform: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """Run `perform` once per (tenant, key). Returns (status, body, replayed).

    The key's row is inserted first, in the same transaction as everything `perform` writes:
    a concurrent request with the same key waits on the unique index until this one commits
    and then replays its result; if `perform` raises, the row goes with the rest and the key
    may be used again."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = ApiIdempotencyKey.objects.create(
                    tenant=tenant,
                    key=key,
                    fingerprint=fingerprint,
                    status=0,
                    response={},
                    created_at=clock.now(),
                )
        except IntegrityError:
            record = None
        if record is None:
            first = ApiIdempotencyKey.objects.get(tenant=tenant, key=key)
            if first.fingerprint != fingerprint:
                raise DomainError(
                    _(
                        "This Idempotency-Key was already used for a different request. Use a "
                        "new key for a new request."
                    ),
                    code="idempotency_key_reused",
                )
            return first.status, first.response, True
        status, body = perform()
        record.status = status
        record.response = body
        record.save(update_fields=["status", "response"])
    return status, body, False
