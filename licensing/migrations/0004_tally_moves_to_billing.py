"""The license tally model moves to billing, which owns the number (its quantity rules read it).
Only Django's state changes here: the table, its name and its triggers stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0003_subscription_license_tally"),
        ("billing", "0003_subscription_license_tally"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SubscriptionLicenseTally")],
            database_operations=[],
        )
    ]
