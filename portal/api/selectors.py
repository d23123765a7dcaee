import hashlib

from portal.models import ApiToken, Membership, Tenant

TOKEN_PREFIX = "pt_"  # noqa: S105 (a prefix, not a secret)


def api_token_hash(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough: there is nothing to
    # brute-force, and every API request pays for this.
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token matching a presented bearer token, with its admin and tenant."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    return (
        ApiToken.objects.select_related("membership__tenant", "membership__user")
        .filter(key_hash=api_token_hash(raw), revoked_at__isnull=True)
        .first()
    )


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
