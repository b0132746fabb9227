"""Candour notifications: email alerts for organisations and authors, subscriptions, unsubscribe."""
