"""The report of a finished upgrade run: what it did, to whom, when, for how much, and who acted.

The page and the API read the same summary (report_build), in a fixed number of queries
whatever the run's size: the users are not part of it but a sample and a count. Every user
moved is listed by report_user_rows, a generator that walks the run's committed batches and
the moved licenses side by side in keyset pages (values only, a few thousand rows at a time):
the CSV of a run of any size is streamed in constant memory, one line per user.

A batch moved the source's licenses with ids in (after_id, last_id]; assignment ids never
change when a license moves (a failed run moves them back to the source, same ids). Ranges can
overlap (a sweep that restarts at 0, a final batch of stragglers), so each batch counts from
the highest id any batch before it reached: every user is listed once, with its first batch."""

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from django.db.models import Count, Sum
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from billing.models import InvoiceLine
from licensing.models import LicenseAssignment
from portal.models import Tenant

from .models import RunState, UpgradeRun, UpgradeRunBatch

# Rows read per query while streaming (values only: a few hundred kilobytes).
USER_PAGE = 2000
BATCH_PAGE = 1000
# Users shown on the report page; the CSV has them all.
SAMPLE_SIZE = 50
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def report_run_get(*, tenant: Tenant, pk: int) -> UpgradeRun:
    """The run with everything its report shows beside it, in one query; 404 for another
    tenant's run."""
    return get_object_or_404(
        UpgradeRun.objects.select_related(
            "tenant",
            "source__product",
            "target",
            "new_subscription__product",
            "order",
            "placed_by",
        ),
        tenant=tenant,
        pk=pk,
    )


def report_available(run: UpgradeRun) -> bool:
    """Only a run that has ended has a report: until then its status page says what happens."""
    return run.is_terminal


# --- The users -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportBatch:
    number: int
    at: dt.datetime
    low: int  # exclusive
    high: int  # inclusive


@dataclass(frozen=True)
class ReportUser:
    name: str
    email: str
    batch: int
    at: dt.datetime
    moved_back: bool


def _batches(run: UpgradeRun) -> Iterator[ReportBatch]:
    """The run's batches in order, each with the id range only it moved (possibly none)."""
    reached, after_number = 0, 0
    while True:
        page = list(
            UpgradeRunBatch.objects.filter(run_id=run.pk, number__gt=after_number)
            .order_by("number")
            .values_list("number", "after_id", "last_id", "at")[:BATCH_PAGE]
        )
        for number, after_id, last_id, at in page:
            low = max(after_id, reached)
            if last_id > low:
                yield ReportBatch(number=number, at=at, low=low, high=last_id)
            reached = max(reached, last_id)
        if len(page) < BATCH_PAGE:
            return
        after_number = page[-1][0]


def report_user_rows(run: UpgradeRun, *, page: int = USER_PAGE) -> Iterator[ReportUser]:
    """Every user the run moved, by license id, each with its batch: a merge of the batches
    (in number order, their ranges increasing) and the licenses, both read in keyset pages.
    A license is looked for on the two subscriptions it can be on: the new one, or the source
    for a failed run that moved it back."""
    subscriptions = [run.source_id]
    if run.new_subscription_id:
        subscriptions.append(run.new_subscription_id)
    batches = _batches(run)
    batch = next(batches, None)
    cursor = 0
    while batch is not None:
        rows = list(
            LicenseAssignment.objects.filter(
                tenant_id=run.tenant_id,
                subscription_id__in=subscriptions,
                id__gt=max(cursor, batch.low),
            )
            .order_by("id")
            .values_list("id", "subscription_id", "user__display_name", "user__upn")[:page]
        )
        for pk, subscription_id, name, email in rows:
            while batch is not None and pk > batch.high:
                batch = next(batches, None)
            if batch is None:
                return
            if pk <= batch.low:  # between two batches' ranges: not moved by this run
                continue
            yield ReportUser(
                name=name,
                email=email,
                batch=batch.number,
                at=batch.at,
                moved_back=subscription_id != run.new_subscription_id,
            )
        if len(rows) < page:
            return
        cursor = rows[-1][0]
        del rows  # one page in memory at a time, not two while the next one is read


def report_user_sample(run: UpgradeRun, *, size: int = SAMPLE_SIZE) -> list[ReportUser]:
    """The first users of the report (three queries whatever the run's size)."""
    return list(islice(report_user_rows(run, page=size), size))


# --- The CSV -------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write returns what it is given: csv.writer then formats one
    row at a time for the streaming response (Django's "Streaming large CSV files")."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: one that could run as a formula gets a leading
    apostrophe (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def utc_iso(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).isoformat() if moment else ""


def report_csv_lines(run: UpgradeRun) -> Iterator[str]:
    """The CSV, line by line: a header, then one line per user moved. The words are
    translated now, in the request's language: the lines are written later, while the
    response streams."""
    header = [
        _("User"),
        _("Email"),
        _("Batch"),
        _("Batch time (UTC)"),
        _("From plan"),
        _("To plan"),
        _("Outcome"),
    ]
    return _csv_lines(run, header=header, moved=_("moved"), moved_back=_("moved back"))


def _csv_lines(run: UpgradeRun, *, header, moved: str, moved_back: str) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    source, target = csv_cell(run.source.product.name), csv_cell(run.target.name)
    for user in report_user_rows(run):
        yield writer.writerow(
            [
                csv_cell(user.name),
                csv_cell(user.email),
                user.batch,
                utc_iso(user.at),
                source,
                target,
                moved_back if user.moved_back else moved,
            ]
        )


def report_csv_response(run: UpgradeRun) -> StreamingHttpResponse:
    """The streamed CSV of a finished run, as the page and the API answer it."""
    response = StreamingHttpResponse(report_csv_lines(run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="upgrade-{run.pk}-users.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- The summary ---------------------------------------------------------------------------


def _addons(entries) -> list[dict]:
    """The add-ons of run.record, whatever the engine stored as holders (a count or a list)."""
    rows = []
    for entry in entries or []:
        if not isinstance(entry, dict):
            entry = {"id": entry}
        holders = entry.get("holders")
        rows.append(
            {
                "subscription_id": entry.get("id"),
                "product": entry.get("product") or "",
                "name": entry.get("name") or entry.get("product") or "",
                "holders": len(holders) if isinstance(holders, list) else holders,
            }
        )
    return rows


def _money(run: UpgradeRun) -> dict:
    """The order's invoices and credit notes with their lines (one query), each line a charge
    or a credit, and the totals."""
    lines = (
        InvoiceLine.objects.filter(invoice__order_id=run.order_id)
        .select_related("invoice")
        .order_by("invoice__issued_at", "invoice__pk", "pk")
    )
    invoices: dict[int, dict] = {}
    charged = credited = Decimal("0.00")
    for line in lines:
        invoice = invoices.setdefault(
            line.invoice_id,
            {
                "number": line.invoice.number,
                "issued_at": line.invoice.issued_at,
                "state": line.invoice.state,
                "state_label": line.invoice.get_state_display(),
                "total": Decimal("0.00"),
                "lines": [],
            },
        )
        invoice["lines"].append(
            {
                "description": line.description,
                "kind": line.kind,
                "kind_label": line.get_kind_display(),
                "quantity": line.quantity,
                "amount": line.amount,
                "credit": line.amount < 0,
            }
        )
        invoice["total"] += line.amount
        if line.amount < 0:
            credited += -line.amount
        else:
            charged += line.amount
    return {
        "currency": run.order.currency,
        "invoices": list(invoices.values()),
        "charged": charged,
        "credited": credited,
        "net": charged - credited,
    }


def _steps(run: UpgradeRun) -> list[dict]:
    """Every state change with its time and actor (one query)."""
    labels = dict(RunState.choices)
    return [
        {
            "from_state": event.from_state,
            "from_label": labels.get(event.from_state, event.from_state),
            "to_state": event.to_state,
            "to_label": labels.get(event.to_state, event.to_state),
            "at": event.at,
            "actor": event.actor.get_username() if event.actor else None,
            "reason": event.reason,
        }
        for event in run.events.select_related("actor").order_by("at", "pk")
    ]


def report_build(*, run: UpgradeRun, sample: int = SAMPLE_SIZE) -> dict:
    """The report of a finished run (report_run_get's), in six queries whatever its size."""
    batches = UpgradeRunBatch.objects.filter(run_id=run.pk).aggregate(
        count=Count("pk"), moved=Sum("moved")
    )
    record = run.record or {}
    return {
        "run": run,
        "failed": run.state == RunState.FAILED,
        "moved_back": run.state == RunState.FAILED,
        "users_moved": batches["moved"] or 0,
        "batch_count": batches["count"],
        "removed_addons": _addons(record.get("removed_addons")),
        "moved_addons": _addons(record.get("moved_addons")),
        "money": _money(run),
        "steps": _steps(run),
        "users": report_user_sample(run, size=sample) if batches["count"] else [],
    }
