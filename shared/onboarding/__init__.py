"""Onboarding tenants: editing a provider map and checking its provider (shared by the admin CLI and the portal)."""
