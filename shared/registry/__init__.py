"""The registry: clients and tenant-to-provider maps; callers use `cached`, over `clients`/`tenants`, over `storage`."""
