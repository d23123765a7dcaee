"""How long an upgrade takes: the runs record their real work times and batches, the estimate
learns a fixed part and a cost per user from them, checkout shows it, and the status page
counts down as batches complete. The 100,000-user figure is measured by
bench/estimate_accuracy.py."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.upgrades.conftest import checkout, make_e4_tenant, place
from upgrades import engine
from upgrades.estimate import (
    DEFAULT_SPREAD,
    Estimate,
    Sample,
    duration_estimate,
    duration_words,
    remaining_seconds,
    samples_recent,
)
from upgrades.models import RunState, UpgradeRun, UpgradeRunBatch

pytestmark = pytest.mark.django_db


def _measured(users, *, fixed=2.0, per_user=0.001):
    return Sample(users=users, move=per_user * users, fixed=fixed)


def test_the_estimate_recovers_a_fixed_part_and_a_cost_per_user_from_runs_of_different_sizes():
    samples = [_measured(n) for n in (100, 500, 2_000, 800)]
    estimate = duration_estimate(users=10_000, samples=samples)
    assert estimate.runs == 4
    assert estimate.per_user == pytest.approx(0.001)
    assert estimate.fixed == pytest.approx(2.0)
    assert estimate.seconds == pytest.approx(12.0)
    # Runs that fit exactly still give an honest range, never a single point.
    assert estimate.low < estimate.seconds < estimate.high
    assert estimate.low == pytest.approx(12.0 * 0.85)


def test_the_range_widens_with_how_far_the_learnt_runs_strayed():
    samples = [_measured(1_000), Sample(users=1_000, move=2.0, fixed=2.0)]  # one took 4 s, one 3 s
    estimate = duration_estimate(users=1_000, samples=samples)
    assert estimate.seconds == pytest.approx(3.5)
    assert estimate.low <= 3.0 and estimate.high >= 4.0


def test_a_noisy_fit_that_goes_negative_falls_back_to_the_plain_ratio():
    samples = [Sample(users=100, move=1.0, fixed=0.5), Sample(users=200, move=0.5, fixed=0.5)]
    estimate = duration_estimate(users=300, samples=samples)
    assert estimate.per_user == pytest.approx(1.5 / 300)
    assert estimate.seconds > 0


def test_without_a_measured_run_the_estimate_is_the_configured_latency_with_a_wide_range(
    settings,
):
    settings.PORTAL_SECONDS_PER_MOVED_USER = 0.01
    settings.PORTAL_PROVISIONING_DELAY_SECONDS = 5.0
    estimate = duration_estimate(users=1_000, samples=[])
    assert estimate.runs == 0
    assert estimate.seconds == pytest.approx(6.0 + 1_000 * (0.01 + 0.00002))
    assert estimate.low == pytest.approx(estimate.seconds * DEFAULT_SPREAD[0])
    assert estimate.high == pytest.approx(estimate.seconds * DEFAULT_SPREAD[1])


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0.2, "under a second"),
        (1, "1 second"),
        (40.2, "41 seconds"),
        (61, "2 minutes"),
        (3_600, "1 hour"),
        (2 * 3_600 + 4 * 60 + 1, "2 hours 5 minutes"),
    ],
)
def test_durations_read_as_words_rounded_up(seconds, words):
    assert duration_words(seconds) == words


def test_a_run_records_its_real_work_times_and_each_batch(settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 4
    t = make_e4_tenant(users=10)
    run = place(t)
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    assert run.work_started_at <= run.move_started_at <= run.move_finished_at
    assert run.move_finished_at <= run.work_finished_at
    batches = list(UpgradeRunBatch.objects.filter(run=run))
    assert [(b.number, b.moved) for b in batches] == [(1, 4), (2, 4), (3, 2)]
    assert [b.after_id for b in batches[1:]] == [b.last_id for b in batches[:-1]]
    assert all(b.seconds >= 0 for b in batches)
    assert samples_recent()[0].users == 10


def test_placing_stores_the_estimate_the_status_page_shows_before_the_run_starts(settings):
    settings.PORTAL_SECONDS_PER_MOVED_USER = 0.5  # 12 users: about 7 seconds of moving
    t = make_e4_tenant(users=12)
    run = place(t)
    stored = Estimate.from_json(run.estimate)
    assert stored.users == 12 and stored.runs == 0
    client = Client()
    client.force_login(t.admin)
    page = client.get(reverse("upgrade_status", args=[t.tenant.slug, run.pk]))
    assert page.status_code == 200
    assert 'id="run-estimate"' in page.content.decode()
    assert "Once it starts, it should take about" in page.content.decode()


def test_remaining_time_counts_down_as_batches_complete():
    started = timezone.now() - dt.timedelta(seconds=10)
    estimate = Estimate(
        users=1_000, seconds=30, low=20, high=40, per_user=0.02, fixed=10, runs=3
    ).as_json()
    run = UpgradeRun(
        state=RunState.MOVING_LICENSES,
        total=1_000,
        moved=250,
        estimate=estimate,
        work_started_at=started - dt.timedelta(seconds=5),
        move_started_at=started,
    )
    now = started + dt.timedelta(seconds=10)
    # 250 users in 10 s: 750 left at that rate is 30 s, plus half the fixed part after moving.
    assert remaining_seconds(run=run, now=now) == pytest.approx(35.0)
    run.moved = 750
    later = started + dt.timedelta(seconds=20)
    assert remaining_seconds(run=run, now=later) == pytest.approx(250 / (750 / 20) + 5)
    run.state = RunState.COMPLETED
    assert remaining_seconds(run=run, now=later) is None
    run.state = RunState.SCHEDULED
    run.work_started_at = None
    assert remaining_seconds(run=run, now=later) is None


def test_the_status_page_shows_the_time_left_while_licenses_move():
    t = make_e4_tenant(users=8)
    run = place(t)
    moving_since = timezone.now() - dt.timedelta(seconds=4)
    UpgradeRun.objects.filter(pk=run.pk).update(
        state=RunState.MOVING_LICENSES,
        total=8,
        moved=4,
        work_started_at=moving_since,
        move_started_at=moving_since,
    )
    client = Client()
    client.force_login(t.admin)
    page = client.get(reverse("upgrade_status", args=[t.tenant.slug, run.pk])).content.decode()
    assert 'id="run-remaining"' in page
    assert "left." in page


def test_checkout_shows_the_expected_duration_for_the_tenants_users():
    t = make_e4_tenant(users=7)
    cart = checkout(t)
    client = Client()
    client.force_login(t.admin)
    page = client.get(reverse("upgrade_checkout", args=[t.tenant.slug, cart.pk]))
    html = page.content.decode()
    assert 'id="estimate"' in html
    assert "for 7 users" in html
    assert "No upgrade has been measured on this portal yet" in html


def test_the_estimate_after_measured_runs_is_within_a_quarter_of_the_next_run(settings):
    """With a simulated cost per user that dominates, as in a demo, the estimate learnt from
    two smaller runs predicts a larger one within 25%."""
    settings.PORTAL_SECONDS_PER_MOVED_USER = 0.001
    for users in (150, 300):
        run = place(make_e4_tenant(users=users))
        assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run = place(make_e4_tenant(users=900))
    estimate = Estimate.from_json(run.estimate)
    assert estimate.runs == 2
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    measured = (run.work_finished_at - run.work_started_at).total_seconds()
    assert abs(estimate.seconds - measured) / measured < 0.25, (estimate, measured)
    assert estimate.low <= measured * 1.1 and estimate.high >= measured * 0.9
