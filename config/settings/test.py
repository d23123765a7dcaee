"""Tests run on the real PostgreSQL and Redis: row locks and constraints are part of what they
prove. bin/test exports the URLs; the defaults point at the local services."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .base import *  # noqa: E402,F401,F403
from .base import env  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PORTAL_PROVISIONING_DELAY_SECONDS = env.float("PORTAL_PROVISIONING_DELAY_SECONDS", default=0.0)
PORTAL_SECONDS_PER_MOVED_USER = env.float("PORTAL_SECONDS_PER_MOVED_USER", default=0.0)
CELERY_BEAT_SCHEDULE = {}
LOGGING = {"version": 1, "disable_existing_loggers": False}
