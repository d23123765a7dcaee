"""Local development and the one-command demo: embedded SQLite and file broker by default."""

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
