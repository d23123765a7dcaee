"""Local development and the one-command demo: embedded SQLite and file broker by default.

DEBUG defaults on here for a developer's `manage.py runserver`; bin/run, the demo, exports
DJANGO_DEBUG=false so that visitors get the portal's own error pages, never Django's debug pages
(whose 404 lists every URL pattern)."""

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
