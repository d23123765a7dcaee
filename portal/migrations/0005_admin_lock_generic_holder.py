"""The admin lock names its holder with a generic reference instead of an "upgrade-run:<pk>"
string. Step 1: add the columns and fill them from the old string."""

import django.db.models.deletion
from django.db import migrations, models


def holder_string_to_reference(apps, schema_editor):
    AdminLock = apps.get_model("portal", "AdminLock")
    ContentType = apps.get_model("contenttypes", "ContentType")
    run_type, _created = ContentType.objects.get_or_create(
        app_label="upgrades", model="upgraderun"
    )
    for lock in AdminLock.objects.all():
        prefix, _sep, pk = lock.holder.partition(":")
        if prefix == "upgrade-run" and pk.isdigit():
            lock.holder_type_id, lock.holder_id = run_type.pk, int(pk)
            lock.save(update_fields=["holder_type", "holder_id"])
        else:
            # Nothing this version wrote: a lock no run can ever release is no lock.
            lock.delete()


def reference_to_holder_string(apps, schema_editor):
    AdminLock = apps.get_model("portal", "AdminLock")
    for lock in AdminLock.objects.all():
        lock.holder = f"upgrade-run:{lock.holder_id}"
        lock.save(update_fields=["holder"])


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("portal", "0004_api_idempotency_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="adminlock",
            name="holder_type",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AddField(
            model_name="adminlock",
            name="holder_id",
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.RunPython(holder_string_to_reference, reference_to_holder_string),
    ]
