"""Outbound webhooks: event catalog, endpoints, signed deliveries with retries."""
