"""What moderation knows: screening, the queue, leases and decisions. No I/O here."""
