"""Compares paylink's objects with the fields stripe-python's typed
classes declare (issue 14: every field the SDK declares is present).

Reads {"<class path>": <object JSON>, ...} on stdin; prints, as JSON, the
fields each class declares that the object lacks, nested objects (and
lists of them) included, as dotted paths; a key "<class>#<what>" checks
another object of the same class. Fields Stripe itself
does not always send (NOT_ALWAYS_SENT) are left out of the comparison.
"""
import json
import sys
import typing

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
    # Inside nested objects, what Stripe sends only on some: a line
    # item's `discounts` and `taxes` and a session's
    # `total_details.breakdown` only when expanded, an event's
    # `data.previous_attributes` only on updates, a promotion code's
    # `restrictions.currency_options` only when set.
    "nested": {"discounts", "taxes", "breakdown", "previous_attributes", "currency_options"},
}


def declared(cls):
    """The fields `cls` declares, each with its annotation."""
    names = {}
    for klass in cls.__mro__:
        if klass.__module__.startswith("stripe._stripe_object") or klass is object:
            continue
        for name, ann in getattr(klass, "__annotations__", {}).items():
            if not name.startswith("_") and name != "OBJECT_NAME":
                names.setdefault(name, ann)
    return names


def nested_class(ann):
    """The class of a nested object an annotation declares (through
    Optional and List), or None: plain values, and expandable fields
    (a string id or an object of its own, checked on its own)."""
    origin = typing.get_origin(ann)
    if origin is not None:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if str in args or len(args) != 1:
            return None
        return nested_class(args[0])
    if isinstance(ann, type) and issubclass(ann, stripe.StripeObject) and not issubclass(ann, stripe.APIResource):
        return ann
    return None


def lacking(cls, obj, path, left_out):
    """The declared fields `obj` lacks, as dotted paths, its nested
    objects and lists of them included."""
    out = []
    for name, ann in sorted(declared(cls).items()):
        if name in left_out and path == "":
            continue
        if path and name in NOT_ALWAYS_SENT["nested"]:
            continue
        here = f"{path}{name}"
        if name not in obj:
            out.append(here)
            continue
        inner = nested_class(ann)
        value = obj[name]
        if inner is None:
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, dict):
                out.extend(lacking(inner, item, f"{here}.", set()))
    return sorted(set(out))


objects = json.load(sys.stdin)
missing = {}
for path, obj in objects.items():
    cls = CLASSES[path.split("#")[0]]
    left_out = NOT_ALWAYS_SENT["*"] | NOT_ALWAYS_SENT.get(path.split("#")[0], set())
    missing[path] = lacking(cls, obj, "", left_out)
print(json.dumps(missing, sort_keys=True))
