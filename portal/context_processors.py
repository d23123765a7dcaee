def navigation(request):
    """Navigation needs the current tenant (set by tenant_view) and whether the user is staff."""
    access = getattr(request, "access", None)
    user = getattr(request, "user", None)
    return {
        "access": access,
        "current_tenant": getattr(access, "tenant", None),
        "is_support": bool(user and user.is_authenticated and user.is_staff),
    }
