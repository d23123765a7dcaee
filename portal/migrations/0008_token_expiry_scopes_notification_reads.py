"""API tokens get an expiry and scopes; notifications' read state becomes each admin's own.

Existing tokens keep working: they expire a year after their creation (the longest a new token
may live) with every scope, which their admin's role still narrows. A notification read under
the old per-tenant state counts as read by every admin the tenant has now."""

import datetime as dt

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

LEGACY_TOKEN_LIFETIME = dt.timedelta(days=365)
ALL_SCOPES = ["read", "licenses", "billing"]


def tokens_forward(apps, schema_editor):
    ApiToken = apps.get_model("portal", "ApiToken")
    for token in ApiToken.objects.all().only("pk", "created_at"):
        ApiToken.objects.filter(pk=token.pk).update(
            expires_at=token.created_at + LEGACY_TOKEN_LIFETIME, scopes=ALL_SCOPES
        )


def reads_forward(apps, schema_editor):
    Notification = apps.get_model("portal", "Notification")
    NotificationRead = apps.get_model("portal", "NotificationRead")
    Membership = apps.get_model("portal", "Membership")
    admins: dict[int, list[int]] = {}
    for membership in Membership.objects.all().only("tenant_id", "user_id"):
        admins.setdefault(membership.tenant_id, []).append(membership.user_id)
    reads = [
        NotificationRead(notification_id=n.pk, user_id=user_id, read_at=n.read_at)
        for n in Notification.objects.filter(read_at__isnull=False).only(
            "pk", "tenant_id", "read_at"
        )
        for user_id in admins.get(n.tenant_id, [])
    ]
    NotificationRead.objects.bulk_create(reads, batch_size=1000)


def reads_backward(apps, schema_editor):
    Notification = apps.get_model("portal", "Notification")
    NotificationRead = apps.get_model("portal", "NotificationRead")
    for read in NotificationRead.objects.all().only("notification_id", "read_at"):
        Notification.objects.filter(pk=read.notification_id, read_at__isnull=True).update(
            read_at=read.read_at
        )


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0007_clock_ticked_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(default=list),
        ),
        migrations.RunPython(tokens_forward, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
        migrations.CreateModel(
            name="NotificationRead",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("read_at", models.DateTimeField()),
                (
                    "notification",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reads",
                        to="portal.notification",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "notification"), name="notification_read_once_per_admin"
                    )
                ],
            },
        ),
        migrations.RunPython(reads_forward, reads_backward),
        migrations.RemoveField(
            model_name="notification",
            name="read_at",
        ),
    ]
