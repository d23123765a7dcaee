"""Production: every secret and every service comes from the environment; nothing has a
default."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import CELERY_BROKER_URL, DATABASES, env

# No embedded fallbacks: a production process that silently used a local SQLite file or a
# folder broker would split the service's state from every other process.
DATABASES["default"] = {
    **env.db("DATABASE_URL"),
    **{key: DATABASES["default"][key] for key in ("ATOMIC_REQUESTS", "CONN_MAX_AGE")},
    "CONN_HEALTH_CHECKS": True,
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    raise ImproperlyConfigured(
        "Set CELERY_BROKER_URL or REDIS_URL: production needs a broker every web and worker "
        "process shares (Redis or RabbitMQ), not the embedded folder broker."
    )

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# How many reverse proxies stand in front of the portal (0 when clients reach it directly):
# no default, because a wrong guess is costly either way. Too low, and every visitor shares
# the proxy's address, so one address's sign-in limit locks everyone out; too high, and a
# client's own X-Forwarded-For claim picks the address it is throttled under.
PORTAL_TRUSTED_PROXY_COUNT = env.int("PORTAL_TRUSTED_PROXY_COUNT")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Behind plain HTTP (docker-compose on a laptop) set DJANGO_SECURE_COOKIES=false.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
