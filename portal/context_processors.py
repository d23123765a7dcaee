# Which navigation item a page belongs to, by its URL name: the item is marked as the current
# page (aria-current) so an admin always sees where they are. The first matching prefix wins.
NAV_SECTIONS = (
    ("support_request_create", "products"),
    ("support", "support"),
    ("tenant_home", "home"),
    ("home", "home"),
    ("users", "users"),
    ("billing", "billing"),
    ("invoice", "billing"),
    ("notification", "notifications"),
    ("api_token", "api_tokens"),
    ("products", "products"),
    ("subscription", "products"),
    ("purchase", "products"),
    ("billed_to", "products"),
    ("sold_to", "products"),
    ("order", "products"),
    ("upgrade", "products"),
)


def nav_section(url_name: str | None) -> str:
    for prefix, section in NAV_SECTIONS:
        if url_name and url_name.startswith(prefix):
            return section
    return ""


def navigation(request):
    """Navigation needs the current tenant (set by tenant_view), whether the user is staff, and
    which section the page belongs to."""
    access = getattr(request, "access", None)
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    return {
        "access": access,
        "current_tenant": getattr(access, "tenant", None),
        "is_support": bool(user and user.is_authenticated and user.is_staff),
        "nav_current": nav_section(match.url_name if match else None),
    }
