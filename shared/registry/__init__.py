"""The registry of clients, tenants and the portal's rows: one service, `service.registry()`, over a storage."""
