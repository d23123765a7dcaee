from tests.upgrades.conftest import committed_catalog  # noqa: F401 (a fixture)
