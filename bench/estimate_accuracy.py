"""How close is the duration estimate to the run it predicts? Runs a few measured upgrades of
smaller tenants (default 10,000, 25,000 and 50,000 users), then places the upgrade of a
100,000-user tenant, reads the estimate Place order stored with it (what checkout and the status
page show), runs it and compares. Prints each learning run, the estimate with its range, the
measured run and the error; exits 1 when the error is above 25% or the measured time falls
outside the range.

    .venv/bin/python bench/estimate_accuracy.py                     # about a minute
    .venv/bin/python bench/estimate_accuracy.py --learn 20000 40000 --users 200000

It drops, creates and migrates its own scratch PostgreSQL database (default
portal_bench_estimate; the name must start with portal_bench), seeds each tenant set-based
(bench/seed.py), places each upgrade through the real services and runs the engine in-process
with zero simulated latency, every step included. The measured time is the run's own record
(start of provisioning to completed, wall clock), which is what the estimate learns from."""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database_prepare, scratch_database_url  # noqa: E402
from bench.seed import django_setup, tenant_seed, upgrade_place, vacuum  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_estimate"
TARGET_ERROR = 0.25


def run_measured(users: int, slug: str):
    """Seed, place and run one upgrade; returns (estimate stored at placement, seconds)."""
    from upgrades import engine
    from upgrades.estimate import Estimate
    from upgrades.models import RunState

    tenant, e4, admin = tenant_seed(users, slug=slug)
    run = upgrade_place(tenant, e4, admin)
    vacuum()
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    seconds = (run.work_finished_at - run.work_started_at).total_seconds()
    return Estimate.from_json(run.estimate), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learn", nargs="+", type=int, default=[10_000, 25_000, 50_000])
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    url = scratch_database_url(default=DEFAULT_URL, script="bench/estimate_accuracy.py")
    scratch_database_prepare(url, fresh=True)
    django_setup(url)
    from django.core.management import call_command

    from upgrades.estimate import duration_words

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    for number, users in enumerate(args.learn, start=1):
        _estimate, seconds = run_measured(users, f"bench-estimate-learn-{number}")
        print(f"learning run {number}: {users:>9,} users in {seconds:.3f}s", flush=True)
    estimate, measured = run_measured(args.users, "bench-estimate-target")
    error = abs(estimate.seconds - measured) / measured
    inside = estimate.low <= measured <= estimate.high
    print(
        f"estimate for {args.users:,} users from {estimate.runs} runs: {estimate.seconds:.3f}s "
        f"(range {estimate.low:.3f}-{estimate.high:.3f}s; shown as "
        f"'about {duration_words(estimate.seconds)}')"
    )
    print(f"measured: {measured:.3f}s  (bench took {time.perf_counter() - started:.0f}s)")
    print(
        f"error {error:.1%} (target <= {TARGET_ERROR:.0%}); measured "
        f"{'inside' if inside else 'OUTSIDE'} the range"
    )
    return 1 if error > TARGET_ERROR or not inside else 0


if __name__ == "__main__":
    sys.exit(main())
