"""What connects the shop to other systems: webhooks (and the outbound HTTP they need)."""
