"""Sessions kept in the database and read through the shared cache (Redis): a signed-in request
costs no session query, and the status poll, which every open status page sends each second,
stays within its two queries (docs/PERFORMANCE.md).

Django's cached_db store, made to survive the cache going away: reads fall back to the
database, and no write or delete of the cache can fail a request (the database row is the
truth; a cache entry lives PORTAL_SESSION_CACHE_SECONDS at most, so a logout whose cache delete
failed while Redis was down is forgotten within minutes, not at the session's end). Used only
with a cache every process shares: with a per-process cache a logout would not reach the
others (config/settings/base.py picks plain database sessions then)."""

import logging

from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore

log = logging.getLogger(__name__)


class SessionStore(CachedDBStore):
    def _cache_seconds(self, **expiry) -> int:
        # expiry= only from a stored row; otherwise the session's own (set_expiry) applies.
        return min(self.get_expiry_age(**expiry), settings.PORTAL_SESSION_CACHE_SECONDS)

    def _cache_set(self, data, seconds: int) -> None:
        try:
            self._cache.set(self.cache_key, data, seconds)
        except Exception:  # the cache is an accelerator: the database row is the session
            log.warning("could not cache a session", exc_info=True)

    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:
            data = None
        if data is not None:
            return data
        row = self._get_session_from_db()
        if not row:
            return {}
        data = self.decode(row.session_data)
        self._cache_set(data, self._cache_seconds(expiry=row.expire_date))
        return data

    def exists(self, session_key):
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:
            log.warning("could not look a session up in the cache", exc_info=True)
        return super(CachedDBStore, self).exists(session_key)

    def save(self, must_create=False):
        # The database store's save, then the cache (skipping CachedDBStore.save, which caches
        # for the session's whole age).
        super(CachedDBStore, self).save(must_create)
        self._cache_set(self._session, self._cache_seconds())

    def delete(self, session_key=None):
        super(CachedDBStore, self).delete(session_key)
        session_key = session_key or self.session_key
        if session_key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
        except Exception:
            log.warning("could not drop a session from the cache", exc_info=True)
