"""The registry: client registrations and tenant-to-provider maps in Azure Table Storage."""
