"""Step 2 (its own transaction, after the data moved): drop the old string, require the
reference."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0005_admin_lock_generic_holder"),
    ]

    operations = [
        migrations.RemoveField(model_name="adminlock", name="holder"),
        migrations.AlterField(
            model_name="adminlock",
            name="holder_type",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AlterField(
            model_name="adminlock",
            name="holder_id",
            field=models.PositiveBigIntegerField(),
        ),
    ]
