"""Settings shared by every environment. Everything a deployment may change comes from the
environment; the defaults here are the embedded local ones (SQLite, file-based Celery broker)."""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-not-secret")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "csp",
    "template_partials",
    "portal",
    "billing",
    "licensing",
    "upgrades",
    "support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "portal.middleware.RequestSizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.HtmxLoginRedirectMiddleware",
    "portal.middleware.AdminLockMiddleware",
    # Last, as django-axes asks: it answers a locked-out sign-in.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    }
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write concurrently: WAL plus IMMEDIATE transactions make
    # SQLite wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: a request reuses its process's connection instead of opening one
# (a third of a status poll's time went to connecting: docs/PERFORMANCE.md). Checked before
# reuse, so a database restart costs a reconnect, not an error.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes first: it refuses a sign-in while the account or the address is cooling off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
    ("sv", _("Swedish")),
    ("it", _("Italian")),
    ("nl", _("Dutch")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and amounts read the same way on every page: one format per language (portal/formats).
FORMAT_MODULE_PATH = ["portal.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve app static files straight from their folders (runserver, tests); production collects.
WHITENOISE_USE_FINDERS = True

# --- Celery -------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

# --- Cache and sessions ---------------------------------------------------------------------
# With Redis, one cache every process shares: sessions are read from it (portal/sessions.py),
# so a signed-in request costs no session query. Without Redis (the embedded default) sessions
# stay in the database alone: a per-process cache could not carry a logout to the others.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
            # A Redis that hangs must not hang pages: the session falls back to the database.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    SESSION_ENGINE = "portal.sessions"
PORTAL_SESSION_CACHE_SECONDS = env.int("PORTAL_SESSION_CACHE_SECONDS", default=300)
_broker_dir = VAR_DIR / "celery"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "results", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    # Producer and consumer share one folder: the transport moves files from "out" to "in".
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # The exchange tables, which kombu otherwise writes to ./control in the working folder.
        "control_folder": str(_broker_dir / "control"),
    }
    _default_backend = f"file://{_broker_dir / 'results'}"
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    _default_backend = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=_default_backend)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_RESULT_EXPIRES = 3600
# No task stores a result unless it says so (portal.tasks.ping does): nothing reads them, and a
# result backend that is down must not make sending or finishing a task fail.
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "subscriptions-advance-lifecycle": {
        "task": "billing.tasks.subscriptions_advance",
        "schedule": env.float("PORTAL_LIFECYCLE_INTERVAL_SECONDS", default=60.0),
    },
    "upgrade-runs-reconcile": {
        "task": "upgrades.tasks.upgrade_runs_reconcile",
        "schedule": env.float("PORTAL_UPGRADE_RECONCILE_INTERVAL_SECONDS", default=30.0),
    },
}

# --- Simulation ---------------------------------------------------------------------------
# Simulated seconds that pass per real second. 1 is real time; the demo sets it high so that
# "30 days" of lifecycle or "two business days" of credit check can be watched happening.
PORTAL_CLOCK_SPEED = env.float("PORTAL_CLOCK_SPEED", default=1.0)
# Seconds a new subscription stays in Provisioning (real seconds).
PORTAL_PROVISIONING_DELAY_SECONDS = env.float("PORTAL_PROVISIONING_DELAY_SECONDS", default=5.0)
# Real seconds spent per moved user during an upgrade (simulated provisioning latency).
PORTAL_SECONDS_PER_MOVED_USER = env.float("PORTAL_SECONDS_PER_MOVED_USER", default=0.01)
# Invoice numbers: one gap-free series per provider, e.g. INV-000123.
PORTAL_INVOICE_SERIES = env.str("PORTAL_INVOICE_SERIES", default="INV")
# A renewal left unpaid (a declined card, an unpaid invoice) is cancelled and its subscription
# goes Expired this many days after the invoice's due date; reminders go out every few days.
PORTAL_RENEWAL_GRACE_DAYS = env.int("PORTAL_RENEWAL_GRACE_DAYS", default=14)
PORTAL_RENEWAL_REMINDER_DAYS = env.int("PORTAL_RENEWAL_REMINDER_DAYS", default=3)
# Order totals at or above this may be paid by invoice (in the tenant's currency).
PORTAL_INVOICE_MINIMUM = env.str("PORTAL_INVOICE_MINIMUM", default="1000.00")
# Order totals above this need a credit check even when paid by card.
PORTAL_CREDIT_CHECK_THRESHOLD = env.str("PORTAL_CREDIT_CHECK_THRESHOLD", default="50000.00")
# What happens when nobody decides a credit check in time: "approve" or "decline".
PORTAL_CREDIT_CHECK_DEFAULT = env.str("PORTAL_CREDIT_CHECK_DEFAULT", default="approve")
# Above this many upgrade runs in flight service-wide, the Upgrade tab asks admins to wait.
PORTAL_UPGRADE_QUEUE_THRESHOLD = env.int("PORTAL_UPGRADE_QUEUE_THRESHOLD", default=50)
# The upgrade run: license moves per batch (fewer when PORTAL_SECONDS_PER_MOVED_USER is set, so
# progress shows), real seconds without a heartbeat before the reconciler re-enqueues a run, how
# many re-enqueues before it fails the run, and how long (simulated) a checkout's frozen price
# stays valid.
PORTAL_UPGRADE_BATCH_SIZE = env.int("PORTAL_UPGRADE_BATCH_SIZE", default=5000)
PORTAL_UPGRADE_STALE_SECONDS = env.float("PORTAL_UPGRADE_STALE_SECONDS", default=60.0)
PORTAL_UPGRADE_MAX_ATTEMPTS = env.int("PORTAL_UPGRADE_MAX_ATTEMPTS", default=10)
# The same unexpected error at the same step this many times in a row fails the run (transient
# errors, the database or broker gone, never do: they retry with backoff).
PORTAL_UPGRADE_MAX_INTERNAL_ERRORS = env.int("PORTAL_UPGRADE_MAX_INTERNAL_ERRORS", default=2)
PORTAL_UPGRADE_SNAPSHOT_MAX_AGE_SECONDS = env.float(
    "PORTAL_UPGRADE_SNAPSHOT_MAX_AGE_SECONDS", default=3600.0
)

# --- API tokens ----------------------------------------------------------------------------
# The longest an API token may live; each token's expiry is chosen when it is created.
PORTAL_API_TOKEN_MAX_DAYS = env.int("PORTAL_API_TOKEN_MAX_DAYS", default=365)

# Token guessing: this many invalid API tokens from one client address within the window (real
# seconds from its first failure) and the address is answered 429 until the window ends.
PORTAL_API_TOKEN_FAILURE_LIMIT = env.int("PORTAL_API_TOKEN_FAILURE_LIMIT", default=10)
PORTAL_API_TOKEN_FAILURE_WINDOW_SECONDS = env.int(
    "PORTAL_API_TOKEN_FAILURE_WINDOW_SECONDS", default=60
)

# --- Request limits ---------------------------------------------------------------------------
# A form post or API body larger than this is refused (413) before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("PORTAL_MAX_REQUEST_BYTES", default=2_621_440)
# JSON bodies nested deeper than this are refused (400) before they are parsed.
PORTAL_API_MAX_JSON_DEPTH = env.int("PORTAL_API_MAX_JSON_DEPTH", default=32)

# --- Login throttling (django-axes) ---------------------------------------------------------
# Web sign-in only (API tokens have their own throttle in portal/api). portal/signin.py holds
# the handler, the refusal page and the audit receivers; its docstring states the guarantees.
# Failures are counted in axes' database tables (SQLite in the demo, PostgreSQL in production),
# which every process shares; nothing is kept in process memory or in a cache.
#
# Each failure counts against the account (the user name typed) and against the client address,
# each with its own limit (SignInThrottleHandler; axes alone has one limit for both). An
# address's limit is the higher: an office behind one address is not locked out by one person.
AXES_HANDLER = "portal.signin.SignInThrottleHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("PORTAL_LOGIN_FAILURE_LIMIT", default=5)  # per account
PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
# A failure counts until this long after the last failure of its kind; a lockout ends then.
# In hours: axes reads a float as hours (15 minutes = 0.25).
AXES_COOLOFF_TIME = env.int("PORTAL_LOGIN_COOLOFF_MINUTES", default=15) / 60
# Attempts while locked out are refused without being counted: hammering a locked account does
# not keep it locked for ever, and its owner can sign in when the message said they could.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A successful sign-in clears the account's failures (only the account's: see the handler).
AXES_RESET_ON_SUCCESS = True
# The refusal: the sign-in page, 429, Retry-After, and a translated "Try again in N minutes".
AXES_LOCKOUT_CALLABLE = "portal.signin.lockout_response"
# The client address. axes 8 asks AXES_CLIENT_IP_CALLABLE, else django-ipware when installed
# (it is not here, so the AXES_IPWARE_* settings do nothing), else REMOTE_ADDR. Behind a reverse
# proxy REMOTE_ADDR is the proxy's own address: every visitor would share it and the address
# limit would lock everyone out at once. portal.signin.client_address reads X-Forwarded-For
# only when told how many proxies append to it: a production deployment behind a load
# balancer or reverse proxy MUST set PORTAL_TRUSTED_PROXY_COUNT to that number (1 for one
# nginx), and those proxies must append (not pass on) X-Forwarded-For. Left at 0 (no proxy,
# e.g. docker-compose serving port 8000 directly) the header is ignored, as a client could
# write anything in it.
AXES_CLIENT_IP_CALLABLE = "portal.signin.client_address"
# No "AXES: BEGIN version ..." log line at start-up: every manage.py command would print it on
# stderr, and a command that succeeds prints nothing there (docs/CLI.md).
AXES_VERBOSE = False
PORTAL_TRUSTED_PROXY_COUNT = env.int("PORTAL_TRUSTED_PROXY_COUNT", default=0)

# --- Content security policy (django-csp) --------------------------------------------------
# Enforced, not report-only, in every environment (local, the demo, tests, production; only
# Django's debug 404 and 500 pages under DEBUG go without it, as django-csp leaves them alone):
# scripts and styles come only from the portal's own static files, so an injected <script>, on*
# handler or style attribute does not run. No template has inline code (behaviour lives in
# static/portal/portal.js, wired by data- attributes) and htmx runs without eval or injected
# styles (the htmx-config meta in templates/base.html). tests/security/test_csp.py crawls every
# page for the header and for inline code; tests/browser/test_csp_browser.py counts violations.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}
