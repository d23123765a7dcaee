"""Per-subscription count of assigned licenses, kept by triggers on licensing_licenseassignment.

PostgreSQL: statement-level triggers with transition tables, so a bulk insert or a batch
re-point of 1,000 rows costs one aggregate update, not 1,000. SQLite (the embedded default): row
triggers. Deletes only ever decrement an existing tally (never insert one), so that deleting a
subscription, whose tally and assignments Django removes in either order, leaves nothing behind."""

import django.db.models.deletion
from django.db import migrations, models

TALLY = "licensing_subscriptionlicensetally"
ASSIGNMENT = "licensing_licenseassignment"

POSTGRES = f"""
CREATE OR REPLACE FUNCTION licensing_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {TALLY} (subscription_id, assigned)
    SELECT subscription_id, count(*) FROM new_rows GROUP BY subscription_id ORDER BY subscription_id
  ON CONFLICT (subscription_id) DO UPDATE SET assigned = {TALLY}.assigned + EXCLUDED.assigned;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION licensing_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {TALLY} t SET assigned = t.assigned - d.n
    FROM (SELECT subscription_id, count(*) AS n FROM old_rows GROUP BY subscription_id) d
   WHERE t.subscription_id = d.subscription_id;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION licensing_tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {TALLY} (subscription_id, assigned)
    SELECT subscription_id, sum(n) FROM (
      SELECT subscription_id, -1 AS n FROM old_rows
      UNION ALL SELECT subscription_id, 1 AS n FROM new_rows
    ) moves GROUP BY subscription_id HAVING sum(n) <> 0 ORDER BY subscription_id
  ON CONFLICT (subscription_id) DO UPDATE SET assigned = {TALLY}.assigned + EXCLUDED.assigned;
  RETURN NULL;
END $$;

CREATE TRIGGER licensing_tally_insert AFTER INSERT ON {ASSIGNMENT}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION licensing_tally_insert();
CREATE TRIGGER licensing_tally_delete AFTER DELETE ON {ASSIGNMENT}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION licensing_tally_delete();
CREATE TRIGGER licensing_tally_update AFTER UPDATE ON {ASSIGNMENT}
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION licensing_tally_update();
"""

POSTGRES_DROP = f"""
DROP TRIGGER IF EXISTS licensing_tally_insert ON {ASSIGNMENT};
DROP TRIGGER IF EXISTS licensing_tally_delete ON {ASSIGNMENT};
DROP TRIGGER IF EXISTS licensing_tally_update ON {ASSIGNMENT};
DROP FUNCTION IF EXISTS licensing_tally_insert();
DROP FUNCTION IF EXISTS licensing_tally_delete();
DROP FUNCTION IF EXISTS licensing_tally_update();
"""

SQLITE = [
    f"""CREATE TRIGGER licensing_tally_insert AFTER INSERT ON {ASSIGNMENT} BEGIN
          INSERT INTO {TALLY} (subscription_id, assigned) VALUES (NEW.subscription_id, 1)
          ON CONFLICT (subscription_id) DO UPDATE SET assigned = assigned + 1;
        END""",
    f"""CREATE TRIGGER licensing_tally_delete AFTER DELETE ON {ASSIGNMENT} BEGIN
          UPDATE {TALLY} SET assigned = assigned - 1 WHERE subscription_id = OLD.subscription_id;
        END""",
    f"""CREATE TRIGGER licensing_tally_update AFTER UPDATE OF subscription_id ON {ASSIGNMENT}
        WHEN OLD.subscription_id <> NEW.subscription_id BEGIN
          UPDATE {TALLY} SET assigned = assigned - 1 WHERE subscription_id = OLD.subscription_id;
          INSERT INTO {TALLY} (subscription_id, assigned) VALUES (NEW.subscription_id, 1)
          ON CONFLICT (subscription_id) DO UPDATE SET assigned = assigned + 1;
        END""",
]

SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS licensing_tally_{op}" for op in ("insert", "delete", "update")
]

BACKFILL = f"""
INSERT INTO {TALLY} (subscription_id, assigned)
SELECT subscription_id, count(*) FROM {ASSIGNMENT} GROUP BY subscription_id
"""


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"No license tally triggers for {vendor}")
    schema_editor.execute(BACKFILL)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_load_catalog"),
        ("licensing", "0002_prefix_search_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="SubscriptionLicenseTally",
            fields=[
                (
                    "subscription",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="license_tally",
                        serialize=False,
                        to="billing.subscription",
                    ),
                ),
                ("assigned", models.IntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
