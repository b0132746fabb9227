"""Contracts and plumbing shared by the Candour services: no service logic lives here."""
