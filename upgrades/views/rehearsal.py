"""Rehearse this upgrade: what the run would do, computed without changing anything.

A read (GET): it evaluates the engine's planning functions (upgrades.plan) over the cart and
renders them; nothing is written, so it can be opened as often as the admin likes."""

from django.shortcuts import render

from portal.access import tenant_view
from portal.roles import Cap

from ..plan import cart_rehearse
from .chain import _remedy_url, with_cart


@tenant_view(Cap.PURCHASE)
@with_cart
def upgrade_rehearsal(request, cart):
    rehearsal = cart_rehearse(access=request.access, cart=cart)
    blockers = [
        {"blocker": b, "url": _remedy_url(b.action, request.tenant, cart.source)}
        for b in rehearsal.blockers
    ]
    printing = request.GET.get("print") == "1"
    return render(
        request,
        "upgrades/rehearsal.html",
        {
            "cart": cart,
            "rehearsal": rehearsal,
            "blockers": blockers,
            # Back where the admin came from: checkout once its prices are fixed.
            "back_to_checkout": rehearsal.frozen,
            "printing": printing,
            "base_template": "upgrades/report_print.html" if printing else "base.html",
        },
    )
