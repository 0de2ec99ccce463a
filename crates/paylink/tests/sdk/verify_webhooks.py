"""Verifies webhook deliveries received by the test suite with the
official libraries a merchant's handler would use: stripe-python's
`stripe.Webhook.construct_event` (Stripe-Signature, 300 s tolerance) and
PyPI's `standardwebhooks` (webhook-id / -timestamp / -signature).

Input (argv[1]): a JSON list of {"body": str, "headers": {name: value},
"secrets": [whsec_…], "refused": [whsec_…]}: every secret in "secrets"
must verify the delivery with both libraries, every one in "refused" must
be rejected by both.
"""

import json
import sys

import stripe
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        deliveries = json.load(f)
    assert deliveries, "no deliveries to verify"
    for d in deliveries:
        body, headers = d["body"], d["headers"]
        for secret in d["secrets"]:
            event = stripe.Webhook.construct_event(body, headers["stripe-signature"], secret)
            assert event.id == json.loads(body)["id"], event.id
            assert event.type == json.loads(body)["type"]
            # The SDK's typed view of the object reads like any event's.
            assert event.data.object.id == json.loads(body)["data"]["object"]["id"]
            payload = Webhook(secret).verify(body, headers)
            assert payload["id"] == event.id, payload
        for secret in d.get("refused", []):
            try:
                stripe.Webhook.construct_event(body, headers["stripe-signature"], secret)
            except stripe.SignatureVerificationError:
                pass
            else:
                raise AssertionError("stripe-python accepted a wrong secret")
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                pass
            else:
                raise AssertionError("standardwebhooks accepted a wrong secret")
    print(f"webhook signatures: OK ({len(deliveries)} deliveries)")


if __name__ == "__main__":
    main()
