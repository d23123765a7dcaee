from django.db import migrations


def load(apps, schema_editor):
    from billing.catalog import catalog_apply

    catalog_apply(
        product_model=apps.get_model("billing", "Product"),
        price_model=apps.get_model("billing", "Price"),
        path_model=apps.get_model("billing", "UpgradePath"),
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
