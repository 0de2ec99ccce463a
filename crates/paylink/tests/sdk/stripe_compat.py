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

# Stripe's Payment Links guide, step one: a product with its default price.
guide = stripe.Product.create(name="Guide T-shirt", default_price_data={"currency": "eur", "unit_amount": 1500}, expand=["default_price"])
assert guide.default_price.unit_amount == 1500 and guide.default_price.product == guide.id
assert stripe.Product.retrieve(guide.id).default_price == guide.default_price.id

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
# Stripe's fields for features paylink does not offer read as "off".
assert link.automatic_tax.enabled is False and link.tax_id_collection.enabled is False
assert link.invoice_creation.enabled is False and link.payment_method_types == ["card"]
assert link.custom_text.submit is None and link.shipping_address_collection is None
# A copied snippet's default values are accepted.
snippet = stripe.PaymentLink.create(
    line_items=[{"price": price.id, "quantity": 1}],
    automatic_tax={"enabled": False},
    invoice_creation={"enabled": False},
    customer_creation="if_required",
    payment_method_types=["card"],
    tax_id_collection={"enabled": False},
    payment_method_collection="always",
)
assert snippet.active is True
# A shop that ships: the countries read back as the SDK types them, and
# "" stops asking.
ships = stripe.PaymentLink.create(
    line_items=[{"price": price.id, "quantity": 1}],
    shipping_address_collection={"allowed_countries": ["FR", "BE"]},
    custom_text={"shipping_address": {"message": "Ships in 2 days."}},
)
assert ships.shipping_address_collection.allowed_countries == ["FR", "BE"]
assert ships.custom_text.shipping_address.message == "Ships in 2 days."
ships = stripe.PaymentLink.modify(ships.id, shipping_address_collection="")
assert ships.shipping_address_collection is None
try:
    stripe.PaymentLink.create(line_items=[{"price": price.id, "quantity": 1}], shipping_address_collection={"allowed_countries": ["XX"]})
    raise AssertionError("an unknown country was accepted")
except stripe.InvalidRequestError as e:
    assert e.param == "shipping_address_collection[allowed_countries][0]", e.param
# Terms to accept need the account's terms URL first (as Stripe's).
try:
    stripe.PaymentLink.create(line_items=[{"price": price.id, "quantity": 1}], consent_collection={"terms_of_service": "required"})
    raise AssertionError("terms consent without a terms URL was accepted")
except stripe.InvalidRequestError as e:
    assert e.param == "consent_collection[terms_of_service]", e.param

# Auto-pagination across several pages.
for i in range(12):
    stripe.Product.create(name=f"Bulk {i}")
names = [p.name for p in stripe.Product.list(limit=5).auto_paging_iter()]
assert len(names) == 14, names
assert len(set(names)) == 14
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
# The link's URL carries the merchant's reference (Stripe's
# client_reference_id) into the form, and so into the session.
page = opener.open(link.url + "?client_reference_id=user_42-sdk").read().decode()
assert 'name="client_reference_id" value="user_42-sdk"' in page, page
status, go_url = post_form(link.url, {"quantity_0": "2", "email": "sdk.buyer@example.com", "client_reference_id": "user_42-sdk", "action": "pay"})
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
assert cs.client_reference_id == "user_42-sdk"
items = stripe.checkout.Session.list_line_items(cs.id)
assert items.data[0].amount_total == 4000
# Line items hold their price as an object, as the SDKs type it, and its
# product expands.
assert items.data[0].price.id == price.id and items.data[0].price.unit_amount == 2000
items = stripe.checkout.Session.list_line_items(cs.id, expand=["data.price.product"])
assert items.data[0].price.product.id == product.id and items.data[0].price.product.name
cs = stripe.checkout.Session.retrieve(cs.id, expand=["line_items.data.price.product"])
assert cs.line_items.data[0].price.product.id == product.id
link_items = stripe.PaymentLink.list_line_items(link.id, expand=["data.price.product"])
assert link_items.data[0].price.product.id == product.id
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

# Stripe's Checkout guide: the merchant creates a session, sends the buyer
# to its url, and reads it back after the success_url is reached.
session = stripe.checkout.Session.create(
    mode="payment",
    line_items=[
        {"price": price.id, "quantity": 1},
        {"price_data": {"currency": "eur", "unit_amount": 700, "product_data": {"name": "Shipping box"}}, "quantity": 2},
    ],
    success_url="https://shop.example/ok?cs={CHECKOUT_SESSION_ID}",
    cancel_url="https://shop.example/cart",
    client_reference_id="cart-7",
    metadata={"cart": "7"},
    automatic_tax={"enabled": False},
)
assert session.status == "open" and session.url and session.amount_total == 3400, session
assert session.payment_link is None and session.success_url.endswith("{CHECKOUT_SESSION_ID}")
status, go_url = post_form(session.url, {"email": "guide.buyer@example.com", "action": "pay"})
assert status == 303 and go_url.endswith("/go"), (status, go_url)
try:
    opener.open(go_url)
    sys.exit("expected a redirect to the provider")
except urllib.error.HTTPError as e:
    sim_url = e.headers.get("Location")
status, back = post_form(sim_url, {"number": "4242424242424242", "exp": "12 / 30", "cvc": "123", "name": "Guide Buyer"})
assert status == 303, status
try:
    opener.open(back)
    sys.exit("expected a redirect to the success_url")
except urllib.error.HTTPError as e:
    assert e.headers.get("Location") == f"https://shop.example/ok?cs={session.id}", e.headers
done = stripe.checkout.Session.retrieve(session.id, expand=["line_items", "payment_intent", "customer"])
assert done.status == "complete" and done.payment_status == "paid" and done.url is None, done
assert done.client_reference_id == "cart-7" and done.metadata["cart"] == "7"
assert done.customer_details.email == "guide.buyer@example.com"
assert [i.description for i in done.line_items.data] == [product.name, "Shipping box"]
assert done.payment_intent.amount == 3400 and done.payment_intent.status == "succeeded"
assert done.customer.email == "guide.buyer@example.com"
expired = stripe.checkout.Session.expire(
    stripe.checkout.Session.create(mode="payment", line_items=[{"price": price.id, "quantity": 1}]).id
)
assert expired.status == "expired" and expired.url is None
# Checkout's discounts: the merchant's coupon, listed from creation.
discounted = stripe.checkout.Session.create(mode="payment", line_items=[{"price": price.id, "quantity": 1}], discounts=[{"coupon": coupon.id}])
assert discounted.discounts[0].coupon == coupon.id and discounted.discounts[0].promotion_code is None, discounted.discounts
try:
    stripe.checkout.Session.create(mode="payment", line_items=[{"price": "price_missing", "quantity": 1}])
    sys.exit("expected an unknown price to be refused")
except stripe.InvalidRequestError as e:
    assert e.http_status == 400 and e.param == "line_items[0][price]" and e.code == "resource_missing", e

# Search, as Stripe's SDKs page it.
found = stripe.Product.search(query=f'name:"{product.name}" AND active:"true"')
assert [p.id for p in found.data] == [product.id], found
assert found.object == "search_result" and found.has_more is False
found = stripe.Customer.search(query='email:"SDK.BUYER@example.com"')
assert [c.id for c in found.data] == [cs.customer], found
# Single quotes, as Stripe's API reference writes queries.
found = stripe.Customer.search(query="email:'sdk.buyer@example.com'")
assert [c.id for c in found.data] == [cs.customer], found

# A customer as Stripe's snippets make one, then a session for them.
vip = stripe.Customer.create(
    email="vip.sdk@example.com",
    description="My first customer",
    preferred_locales=["en"],
    shipping={"name": "Vip Sdk", "address": {"line1": "1 Main St", "city": "Springfield", "country": "US"}},
)
assert vip.description == "My first customer" and vip.preferred_locales == ["en"], vip
assert vip.shipping.address.country == "US" and vip.shipping.phone is None, vip
for_vip = stripe.checkout.Session.create(mode="payment", customer=vip.id, line_items=[{"price": price.id, "quantity": 1}])
assert for_vip.customer == vip.id and for_vip.customer_email == "vip.sdk@example.com", for_vip
assert for_vip.customer_details.tax_exempt == "none", for_vip.customer_details
charged = stripe.PaymentIntent.retrieve(pi.id, expand=["latest_charge"])
assert charged.latest_charge is None
# A receipt's usual path: the session's payment with its latest charge.
with_charge = stripe.checkout.Session.retrieve(cs.id, expand=["payment_intent.latest_charge"])
assert with_charge.payment_intent.id == pi.id and with_charge.payment_intent.latest_charge is None
ids = [p.id for p in stripe.PaymentIntent.search(query='status:"succeeded"', limit=1).auto_paging_iter()]
assert pi.id in ids and len(ids) == len(set(ids)) >= 2, ids
assert price.id in [p.id for p in stripe.Price.search(query=f'product:"{product.id}"').data]
try:
    stripe.Product.search(query='colour:"blue"')
    sys.exit("expected an unsupported field to be refused")
except stripe.InvalidRequestError as e:
    assert e.http_status == 400 and e.param == "query", e

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
