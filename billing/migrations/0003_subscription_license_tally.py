"""Billing takes over the license tally model from licensing (licensing migration 0004 drops it
from licensing's state). The table stays where licensing created it; nothing in the database
changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_load_catalog"),
        ("licensing", "0003_subscription_license_tally"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
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
                    options={"db_table": "licensing_subscriptionlicensetally"},
                )
            ],
            database_operations=[],
        )
    ]
