"""Signed webhooks: every published feed event POSTed to the URLs an admin registered.

- ``store``: subscriptions and the delivery log (plain PostgreSQL tables: operational
  state, not domain events; see docs/decisions/0013-webhooks.md).
- ``outbox``: the step that follows the feed read model by position and writes one
  delivery row per (subscription, event), with its own cursor, in one transaction.
- ``dispatcher``: claims due deliveries (``FOR UPDATE SKIP LOCKED`` and a lease), signs
  them (Standard Webhooks) and POSTs them, retrying with backoff, in order per aggregate.
"""
