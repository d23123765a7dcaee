"""Idempotent order placement: the (tenant, idempotency key) unique constraint is the guard.
A replay of the same request returns the first order; the same key with a different request is
refused."""

import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portal import clock
from portal.errors import DomainError
from portal.models import Tenant

from .models import Order


def request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def order_get_or_create(
    *,
    tenant: Tenant,
    kind: str,
    idempotency_key: str,
    fingerprint: str,
    defaults: dict,
    actor,
) -> tuple[Order, bool]:
    """Returns (order, created). Must run inside the caller's transaction: the insert sits in
    a savepoint so that losing a race does not poison the caller's transaction."""
    existing = Order.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
    if existing is None:
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    tenant=tenant,
                    kind=kind,
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                    placed_by=actor if actor is not None and actor.is_authenticated else None,
                    placed_at=clock.now(),
                    **defaults,
                )
            return order, True
        except IntegrityError:
            existing = Order.objects.get(tenant=tenant, idempotency_key=idempotency_key)
    if existing.request_fingerprint and existing.request_fingerprint != fingerprint:
        raise DomainError(
            _("This idempotency key was already used for a different order."),
            code="idempotency_key_reused",
        )
    return existing, False
