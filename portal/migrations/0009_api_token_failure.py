"""Invalid API tokens counted per client address, so that token guessing is answered 429."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0008_token_expiry_scopes_notification_reads"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiTokenFailure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("address", models.CharField(max_length=100, unique=True)),
                ("window_started", models.BigIntegerField(db_index=True)),
                ("failures", models.PositiveIntegerField()),
            ],
        ),
    ]
