"""Drives a paylink server with Stripe's official Python SDK.

Run by tests/api/sdk.rs with PAYLINK_API_BASE and PAYLINK_API_KEY set.
Every assertion here is about what the server returned to the SDK.
"""
import os
import sys

import stripe

base = os.environ["PAYLINK_API_BASE"]
key = os.environ["PAYLINK_API_KEY"]

major = int(stripe.VERSION.split(".")[0])
assert major == 16, f"expected stripe-python 16.x, got {stripe.VERSION}"

# The module-level (global) style.
stripe.api_key = key
stripe.api_base = base
stripe.max_network_retries = 2  # makes the SDK send Idempotency-Key on POSTs

product = stripe.Product.create(name="SDK T-shirt", description="Made by stripe-python", metadata={"sku": "sdk-1"})
assert product.id.startswith("prod_"), product
assert product.object == "product" and product.metadata["sku"] == "sdk-1"

price = stripe.Price.create(product=product.id, currency="eur", unit_amount=2000, nickname="Standard")
assert price.unit_amount == 2000 and price.currency == "eur" and price.product == product.id

link = stripe.PaymentLink.create(
    line_items=[{"price": price.id, "quantity": 2, "adjustable_quantity": {"enabled": True, "maximum": 10}}],
    metadata={"campaign": "sdk"},
    allow_promotion_codes=True,
    after_completion={"type": "redirect", "redirect": {"url": "https://shop.example/done?cs={CHECKOUT_SESSION_ID}"}},
)
assert link.id.startswith("plink_") and link.url.endswith("/l/" + link.id), link
assert link.metadata["campaign"] == "sdk" and link.allow_promotion_codes is True

# Auto-pagination across several pages.
for i in range(12):
    stripe.Product.create(name=f"Bulk {i}")
names = [p.name for p in stripe.Product.list(limit=5).auto_paging_iter()]
assert len(names) == 13, names
assert len(set(names)) == 13
assert names[-1] == "SDK T-shirt", names

# Update, then read back.
updated = stripe.PaymentLink.modify(link.id, active=False, metadata={"campaign": "sdk-2"})
assert updated.active is False and updated.metadata["campaign"] == "sdk-2"
again = stripe.PaymentLink.retrieve(link.id, expand=["line_items"])
assert again.active is False
assert again.line_items.data[0].quantity == 2
assert again.line_items.data[0].price.id == price.id
items = stripe.PaymentLink.list_line_items(link.id)
assert [i.price.id for i in items.auto_paging_iter()] == [price.id]

prices = stripe.Price.list(product=product.id, active=True)
assert [p.id for p in prices.data] == [price.id]

coupon = stripe.Coupon.create(percent_off=12.5, duration="once", name="SDK")
assert coupon.percent_off == 12.5
promo = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="SDKCODE")
assert promo.code == "SDKCODE" and promo.promotion.coupon == coupon.id
found = stripe.PromotionCode.list(code="sdkcode")
assert [p.id for p in found.data] == [promo.id]

# Errors come back as the SDK's typed exceptions.
try:
    stripe.Product.retrieve("prod_doesnotexist")
    sys.exit("expected a 404")
except stripe.InvalidRequestError as e:
    assert e.http_status == 404 and e.code == "resource_missing", e
try:
    stripe.Price.create(product=product.id, currency="eur", unit_amount=-5)
    sys.exit("expected a 400")
except stripe.InvalidRequestError as e:
    assert e.http_status == 400 and e.param == "unit_amount", e
try:
    stripe.Product.list(api_key="sk_test_wrongwrongwrongwrongwrong0000")
    sys.exit("expected a 401")
except stripe.AuthenticationError as e:
    assert e.http_status == 401, e

# A buyer pays the link (plain HTTP, as a browser would), then the SDK reads
# the payment side: checkout sessions, payment intents, customers, refunds.
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def post_form(url, fields):
    data = urllib.parse.urlencode(fields).encode()
    try:
        opener.open(urllib.request.Request(url, data=data, method="POST"))
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location")
    sys.exit(f"expected a redirect from {url}")


stripe.PaymentLink.modify(link.id, active=True)
status, go_url = post_form(link.url, {"quantity_0": "2", "email": "sdk.buyer@example.com", "action": "pay"})
assert status == 303 and go_url.endswith("/go"), (status, go_url)
# paylink's own hop to the provider's page (it holds a scarce place).
try:
    opener.open(go_url)
    sys.exit("expected a redirect to the provider")
except urllib.error.HTTPError as e:
    status, sim_url = e.code, e.headers.get("Location")
assert status == 303, status
status, back = post_form(sim_url, {"number": "4242424242424242", "exp": "12 / 30", "cvc": "123", "name": "SDK Buyer"})
assert status == 303 and "/checkout/cs_" in back, (status, back)

sessions = stripe.checkout.Session.list(payment_link=link.id)
assert len(sessions.data) == 1
cs = stripe.checkout.Session.retrieve(sessions.data[0].id, expand=["line_items"])
assert cs.status == "complete" and cs.payment_status == "paid" and cs.amount_total == 4000, cs
assert cs.customer_details.email == "sdk.buyer@example.com"
assert cs.line_items.data[0].quantity == 2
items = stripe.checkout.Session.list_line_items(cs.id)
assert items.data[0].amount_total == 4000
pi = stripe.PaymentIntent.retrieve(cs.payment_intent)
assert pi.amount == 4000 and pi.status == "succeeded" and pi.customer == cs.customer
assert [p.id for p in stripe.PaymentIntent.list(customer=cs.customer).auto_paging_iter()] == [pi.id]
customers = stripe.Customer.list(email="SDK.Buyer@example.com")
assert [c.id for c in customers.data] == [cs.customer]
customer = stripe.Customer.modify(cs.customer, name="SDK Buyer", metadata={"tier": "gold"})
assert customer.name == "SDK Buyer" and customer.metadata["tier"] == "gold"
refund = stripe.Refund.create(payment_intent=pi.id, amount=1500, reason="requested_by_customer")
assert refund.status == "succeeded" and refund.amount == 1500
assert [r.id for r in stripe.Refund.list(payment_intent=pi.id).data] == [refund.id]
try:
    stripe.Refund.create(payment_intent=pi.id, amount=3000)
    sys.exit("expected the over-refund to be refused")
except stripe.InvalidRequestError as e:
    assert e.http_status == 400 and e.param == "amount", e
stripe.PaymentLink.modify(link.id, active=False)

# The client (StripeClient) style.
client = stripe.StripeClient(key, base_addresses={"api": base})
p2 = client.v1.products.create(params={"name": "Client product"})
got = client.v1.products.retrieve(p2.id)
assert got.name == "Client product"
client.v1.products.update(p2.id, params={"metadata": {"via": "client"}})
assert client.v1.products.retrieve(p2.id).metadata["via"] == "client"
deleted = client.v1.products.delete(p2.id)
assert deleted.deleted is True

print("stripe-python compatibility: OK")
