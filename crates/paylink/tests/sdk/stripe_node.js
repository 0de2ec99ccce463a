// Stripe's official Node SDK (stripe-node 23) against a paylink server, as
// Stripe's Payment Links and Checkout guides use it: a product with its
// default price, a link, a checkout session paid by a buyer (plain HTTP, as
// a browser would), search, refunds, events, errors and idempotency.
// Run by `api::sdk::stripe_node_sdk_*` with NODE_PATH holding `stripe`.
"use strict";
const assert = require("assert");
const Stripe = require("stripe");

const base = new URL(process.env.PAYLINK_API_BASE);
const stripe = new Stripe(process.env.PAYLINK_API_KEY, {
  host: base.hostname,
  port: base.port,
  protocol: base.protocol.replace(":", ""),
  maxNetworkRetries: 0,
});

/** Follows one redirect by hand: the Location of a 3xx answer. */
async function hop(url, form) {
  const init = { redirect: "manual" };
  if (form) {
    init.method = "POST";
    init.body = new URLSearchParams(form);
  }
  const r = await fetch(new URL(url, base), init);
  assert.ok(r.status >= 300 && r.status < 400, `${url}: ${r.status} ${await r.text()}`);
  return new URL(r.headers.get("location"), base).toString();
}

async function expectError(promise, check) {
  try {
    await promise;
  } catch (e) {
    check(e);
    return;
  }
  assert.fail("expected an error");
}

(async () => {
  // Payment Links guide: a product with its price, then a link.
  const product = await stripe.products.create({
    name: "Node T-shirt",
    default_price_data: { currency: "eur", unit_amount: 2000 },
    expand: ["default_price"],
  });
  assert.strictEqual(product.default_price.unit_amount, 2000);
  const price = product.default_price;
  const link = await stripe.paymentLinks.create({
    line_items: [{ price: price.id, quantity: 1, adjustable_quantity: { enabled: true, maximum: 5 } }],
    after_completion: { type: "redirect", redirect: { url: "https://shop.example/thanks" } },
    automatic_tax: { enabled: false },
    metadata: { via: "node" },
  });
  assert.ok(link.url.includes("/l/"), link.url);
  assert.strictEqual(link.metadata.via, "node");
  const linkItems = await stripe.paymentLinks.listLineItems(link.id, { expand: ["data.price.product"] });
  assert.strictEqual(linkItems.data[0].price.product.id, product.id);
  const off = await stripe.paymentLinks.update(link.id, { active: false });
  assert.strictEqual(off.active, false);

  // Auto-pagination.
  for (let i = 0; i < 3; i++) await stripe.products.create({ name: `Node page ${i}` });
  const names = [];
  for await (const p of stripe.products.list({ limit: 2 })) names.push(p.name);
  assert.deepStrictEqual(names.slice(0, 4), ["Node page 2", "Node page 1", "Node page 0", "Node T-shirt"]);

  // Errors as the SDK types them.
  await expectError(stripe.products.retrieve("prod_missing"), (e) => {
    assert.ok(e instanceof Stripe.errors.StripeInvalidRequestError, e);
    assert.strictEqual(e.statusCode, 404);
    assert.strictEqual(e.code, "resource_missing");
    assert.strictEqual(e.param, "id");
  });
  await expectError(stripe.products.create({ name: "x", colour: "red" }), (e) => {
    assert.ok(e instanceof Stripe.errors.StripeInvalidRequestError, e);
    assert.strictEqual(e.code, "parameter_unknown");
    assert.strictEqual(e.param, "colour");
  });


  // Idempotency: the same key answers the same object.
  const a = await stripe.products.create({ name: "Idem" }, { idempotencyKey: "node-idem-1" });
  const b = await stripe.products.create({ name: "Idem" }, { idempotencyKey: "node-idem-1" });
  assert.strictEqual(a.id, b.id);
  await expectError(stripe.products.create({ name: "Other" }, { idempotencyKey: "node-idem-1" }), (e) => {
    assert.ok(e instanceof Stripe.errors.StripeIdempotencyError, e);
  });

  // Checkout guide: a session, paid by a buyer on its url.
  const session = await stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [
      { price: price.id, quantity: 2 },
      { price_data: { currency: "eur", unit_amount: 300, product_data: { name: "Node sticker" } }, quantity: 1 },
    ],
    success_url: "https://shop.example/ok?cs={CHECKOUT_SESSION_ID}",
    cancel_url: "https://shop.example/cart",
    client_reference_id: "node-order-1",
    payment_intent_data: { description: "Node order 1" },
    metadata: { cart: "node" },
  });
  assert.strictEqual(session.status, "open");
  assert.strictEqual(session.amount_total, 4300);
  const go = await hop(session.url, { email: "node.buyer@example.com", action: "pay" });
  const sim = await hop(go);
  const back = await hop(sim, { number: "4242424242424242", exp: "12 / 30", cvc: "123", name: "Node Buyer" });
  assert.strictEqual(await hop(back), `https://shop.example/ok?cs=${session.id}`);
  const done = await stripe.checkout.sessions.retrieve(session.id, {
    expand: ["payment_intent", "line_items.data.price.product"],
  });
  assert.strictEqual(done.status, "complete");
  assert.strictEqual(done.payment_status, "paid");
  assert.strictEqual(done.client_reference_id, "node-order-1");
  assert.strictEqual(done.customer_details.email, "node.buyer@example.com");
  assert.strictEqual(done.payment_intent.amount, 4300);
  assert.strictEqual(done.payment_intent.description, "Node order 1");
  assert.deepStrictEqual(
    done.line_items.data.map((i) => i.price.product.name),
    ["Node T-shirt", "Node sticker"],
  );
  const pi = await stripe.paymentIntents.update(done.payment_intent.id, { metadata: { shipped: "yes" } });
  assert.strictEqual(pi.metadata.shipped, "yes");

  // Search.
  const found = await stripe.products.search({ query: 'name:"Node T-shirt" AND active:"true"' });
  assert.deepStrictEqual(found.data.map((p) => p.id), [product.id]);
  const customers = await stripe.customers.search({ query: 'email:"node.buyer@example.com"' });
  assert.strictEqual(customers.data[0].id, done.customer);

  // Refunds and events.
  const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000, reason: "requested_by_customer" });
  assert.strictEqual(refund.status, "succeeded");
  await expectError(stripe.refunds.create({ payment_intent: pi.id, amount: 5000 }), (e) => {
    assert.ok(e instanceof Stripe.errors.StripeInvalidRequestError, e);
    assert.strictEqual(e.param, "amount");
  });
  const events = await stripe.events.list({ type: "checkout.session.completed" });
  assert.ok(events.data.some((e) => e.data.object.id === session.id));
  const expired = await stripe.checkout.sessions.expire(
    (await stripe.checkout.sessions.create({ mode: "payment", line_items: [{ price: price.id, quantity: 1 }] })).id,
  );
  assert.strictEqual(expired.status, "expired");

  console.log("stripe-node compatibility: OK");
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
