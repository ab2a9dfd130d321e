"""The admin command line: onboard clients and tenants in the registry (`python -m admin`)."""
