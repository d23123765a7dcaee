"""The security tests crawl the same world as tests/test_reads_write_nothing.py: two tenants
with every kind of object a page or a form can name."""

from tests.test_reads_write_nothing import world  # noqa: F401 (a fixture, shared)
