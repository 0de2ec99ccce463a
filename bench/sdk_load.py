"""stripe-python load for paylink-bench: THREADS threads each run ROUNDS
rounds of Product.create, Product.retrieve and Product.list(limit=10)
against BASE with KEY; prints the number of SDK calls made."""
import sys
import threading

import stripe

base, key, threads, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# The client as an integration makes it (its defaults: retries, so an
# Idempotency-Key on every POST).
client = stripe.StripeClient(key, base_addresses={"api": base})
errors = []


def work():
    try:
        for i in range(rounds):
            p = client.v1.products.create(params={"name": f"Bench {i}"})
            client.v1.products.retrieve(p.id)
            client.v1.products.list(params={"limit": 10})
    except Exception as e:  # reported below, with a non-zero exit
        errors.append(repr(e))


ts = [threading.Thread(target=work) for _ in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
if errors:
    print(errors[0], file=sys.stderr)
    sys.exit(1)
print(threads * rounds * 3)
