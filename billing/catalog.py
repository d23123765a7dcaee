"""Loads the product catalog from its one data file (catalog.json beside this module).

Takes the model classes as arguments so that a data migration (historical models) and the
`catalog_load` command (current models) share one loader. Loading twice changes nothing."""

import json
from decimal import Decimal
from pathlib import Path

CATALOG_FILE = Path(__file__).with_name("catalog.json")


def catalog_data(path: Path = CATALOG_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def catalog_apply(*, product_model, price_model, path_model, data: dict | None = None) -> int:
    data = data or catalog_data()
    by_code = {}
    for sort, item in enumerate(data["products"]):
        product, _ = product_model.objects.update_or_create(
            code=item["code"],
            defaults={
                "name": item["name"],
                "kind": item["kind"],
                "on_sale": item.get("on_sale", True),
                "seat_cap": item.get("seat_cap"),
                "addon_scope": item.get("scope", ""),
                "unit": item.get("unit", "license"),
                "services": item.get("services", []),
                "sort_order": item.get("sort", sort),
            },
        )
        by_code[item["code"]] = product
        for currency, amount in item["prices"].items():
            price_model.objects.update_or_create(
                product=product, currency=currency, defaults={"monthly": Decimal(amount)}
            )
    for item in data["products"]:
        product = by_code[item["code"]]
        product.includes.set([by_code[c] for c in item.get("includes", [])])
        product.accepts.set([by_code[c] for c in item.get("accepts", [])])
        targets = [by_code[c] for c in item.get("upgrades_to", [])]
        path_model.objects.filter(source=product).exclude(target__in=targets).delete()
        for target in targets:
            path_model.objects.get_or_create(source=product, target=target)
    return len(by_code)
