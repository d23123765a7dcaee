"""What every admin page shows of a scheduled upgrade, registered by the upgrades app: the
banner in base.html (a portal template: portal code never imports upgrades), and the tenant
time of a window on the upgrade pages.

The banner costs one query on a page of a tenant with no scheduled upgrade; with one, it adds
the checks of what would make the run fail at its window (upgrades.plan.run_blockers), so that
a change that would (users assigned beyond the order's quantity, an unpaid invoice) is warned
about on the very next page."""

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from upgrades import selectors, services

register = template.Library()

# The request attribute a view may set to the tenant's scheduled run (or None) it already
# read, so that the banner does not read it again.
REQUEST_ATTR = "upgrade_scheduled_run"
_UNREAD = object()


def scheduled_run_of(request, tenant):
    """The tenant's scheduled run, read once per request."""
    run = getattr(request, REQUEST_ATTR, _UNREAD) if request is not None else _UNREAD
    if run is _UNREAD or (run is not None and run.tenant_id != tenant.pk):
        run = selectors.upgrade_run_scheduled_get(tenant=tenant)
        if request is not None:
            setattr(request, REQUEST_ATTR, run)
    return run


def _html(text: str, **params) -> SafeString:
    """A translated sentence with HTML parameters: the sentence is escaped, the parameters
    are escaped unless already safe."""
    return mark_safe(escape(text) % {k: conditional_escape(v) for k, v in params.items()})  # noqa: S308


@register.simple_tag
def local_time(moment, tenant) -> str:
    """A moment in the tenant's time zone, with the zone's name (no query)."""
    if moment is None:
        return ""
    return services.window_words(moment, time_zone=tenant.time_zone)


@register.simple_tag
def window_zone_name(tenant) -> str:
    return services.window_zone(tenant.time_zone).key


@register.simple_tag(takes_context=True)
def scheduled_upgrade_banner(context) -> str:
    """The banner of a tenant whose upgrade waits for its maintenance window: when it starts,
    what it means for the admins, and what would make it fail if nothing changes."""
    tenant = context.get("current_tenant")
    if tenant is None:
        return ""
    run = scheduled_run_of(context.get("request"), tenant)
    if run is None:
        return ""
    when = format_html(
        '<time datetime="{}">{}</time>',
        run.scheduled_for.isoformat(),
        services.window_words(run.scheduled_for, time_zone=tenant.time_zone),
    )
    headline = _html(
        _("Upgrade to %(target)s scheduled for %(when)s."), target=run.target.name, when=when
    )
    warnings = services.run_start_blockers(run=run)
    warning_list = ""
    if warnings:
        warning_list = format_html(
            '<p>{}</p><ul class="schedule-warnings">{}</ul>',
            _("If nothing changes before then, it will fail when it starts:"),
            format_html_join(
                "",
                '<li data-blocker="{}"><strong>{}</strong> {}</li>',
                ((w.code, w.message, w.remedy) for w in warnings),
            ),
        )
    return format_html(
        '<div class="alert {}" id="scheduled-upgrade-banner" role="status">'
        '<strong>{}</strong> {} <a href="{}">{}</a>{}</div>',
        "error" if warnings else "warning",
        headline,
        _("Admins will be locked out from then until it finishes; users keep working."),
        reverse("upgrade_status", args=[tenant.slug, run.pk]),
        _("See the scheduled upgrade"),
        warning_list,
    )
