"""Prefix search on the Users page (UPPER(col) LIKE 'ADA%') must use an index whatever the
database collation: text_pattern_ops makes LIKE usable on a non-C collation. PostgreSQL only;
SQLite (the embedded default) keeps the plain indexes of 0001."""

from django.db import migrations

INDEXES = {
    "diruser_tenant_upper_name_like": "(UPPER(display_name)) text_pattern_ops",
    "diruser_tenant_upper_upn_like": "(UPPER(upn)) text_pattern_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} "
            f"ON licensing_directoryuser (tenant_id, {expression})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("licensing", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
