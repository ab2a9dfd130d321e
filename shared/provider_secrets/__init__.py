"""Provider credentials: secrets kept for a tenant's upstream authentication, never a setting of the gateway itself."""
