"""The operator CLI `candour`."""
