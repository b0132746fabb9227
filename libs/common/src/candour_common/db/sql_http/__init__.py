"""Shared tables of the HTTP edge: rate-limit counters and page sessions (every service)."""
