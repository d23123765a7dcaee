import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portal import clock
from portal.errors import DomainError
from portal.models import ApiIdempotencyKey, ApiToken, Membership, Role
from portal.services import admin_lock_enforce, audit_event_record

from .selectors import TOKEN_PREFIX, api_token_hash

# A token's last use is recorded at most this often: the API should not write a row per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
MAX_ACTIVE_TOKENS = 10


def api_token_create(*, membership: Membership, name: str) -> tuple[ApiToken, str]:
    """Create a token for the admin. Returns the row and the token itself, which is not
    stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise DomainError(_("Give the token a name."), code="name_required")
    with transaction.atomic():
        # Lock the membership so two concurrent creations cannot both pass the limit.
        Membership.objects.select_for_update(of=("self",)).get(pk=membership.pk)
        # The tokens page is admin-locked like every tenant page; the service says the same.
        admin_lock_enforce(tenant=membership.tenant, actor=membership.user)
        active = ApiToken.objects.filter(membership=membership, revoked_at__isnull=True).count()
        if active >= MAX_ACTIVE_TOKENS:
            raise DomainError(
                _("You have %(count)d active tokens. Revoke one before creating another.")
                % {"count": active},
                code="too_many_tokens",
            )
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            membership=membership,
            name=name,
            prefix=raw[:10],
            key_hash=api_token_hash(raw),
            created_at=clock.now(),
            expires_at=clock.now() + dt.timedelta(days=90),
            scopes=["read", "licenses", "billing"],
        )
        audit_event_record(
            tenant=membership.tenant,
            actor=membership.user,
            action="api_token.create",
            target=f"api-token:{token.pk}",
            data={"name": name, "prefix": token.prefix},
        )
    return token, raw


def api_token_revoke(*, token: ApiToken, actor, actor_membership: Membership | None) -> ApiToken:
    """An admin revokes one of their own tokens; a Global admin may revoke any of the tenant's."""
    owner = token.membership
    may = actor_membership is not None and (
        actor_membership.pk == owner.pk or actor_membership.role == Role.GLOBAL_ADMIN
    )
    if not may or actor_membership.tenant_id != owner.tenant_id:
        raise DomainError(_("You can revoke only your own tokens."), code="forbidden")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update(of=("self",)).get(pk=token.pk)
        admin_lock_enforce(tenant=owner.tenant, actor=actor)
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


def api_token_touch(*, token: ApiToken) -> None:
    """Record that the token was used (at most once per LAST_USED_RESOLUTION)."""
    now = clock.now()
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
