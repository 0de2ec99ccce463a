"""Compares paylink's objects with the fields stripe-python's typed
classes declare (issue 14: every field the SDK declares is present).

Reads {"<class path>": <object JSON>, ...} on stdin; prints, as JSON, the
fields each class declares that the object lacks. Fields Stripe itself
does not always send (NOT_ALWAYS_SENT) are left out of the comparison.
"""
import json
import sys

import stripe

CLASSES = {
    "PaymentLink": stripe.PaymentLink,
    "checkout.Session": stripe.checkout.Session,
    "PaymentIntent": stripe.PaymentIntent,
    "Refund": stripe.Refund,
    "Customer": stripe.Customer,
    "Product": stripe.Product,
    "Price": stripe.Price,
    "Coupon": stripe.Coupon,
    "PromotionCode": stripe.PromotionCode,
    "Event": stripe.Event,
    "WebhookEndpoint": stripe.WebhookEndpoint,
    "LineItem": stripe.LineItem,
}

# Fields Stripe itself leaves out unless asked (its "includable" fields,
# sent only with expand[]), or sends only on some objects: `deleted` on a
# deleted one, a webhook endpoint's `secret` at creation, an event's
# `account` and `context` for Connect.
NOT_ALWAYS_SENT = {
    "*": {"line_items", "deleted"},
    "Customer": {"cash_balance", "invoice_credit_balance", "sources", "subscriptions", "tax", "tax_ids"},
    "Price": {"currency_options", "tiers"},
    "Coupon": {"applies_to", "currency_options"},
    "LineItem": {"discounts", "taxes"},
    "WebhookEndpoint": {"secret"},
    "Event": {"account", "context"},
}


def declared(cls):
    names = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("stripe._stripe_object") or klass is object:
            continue
        for name in getattr(klass, "__annotations__", {}):
            if not name.startswith("_") and name != "OBJECT_NAME":
                names.add(name)
    return names


objects = json.load(sys.stdin)
missing = {}
for path, obj in objects.items():
    cls = CLASSES[path]
    left_out = NOT_ALWAYS_SENT["*"] | NOT_ALWAYS_SENT.get(path, set())
    missing[path] = sorted(declared(cls) - set(obj) - left_out)
print(json.dumps(missing, sort_keys=True))
