"""Signed outbound webhooks: endpoints, an outbox of events, durable deliveries (ADR 0016)."""
