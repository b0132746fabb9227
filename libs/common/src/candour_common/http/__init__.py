"""HTTP conventions shared by the services: problem details, correlation ids, health."""
