"""The read-only FHIR proxy: verify, route by tenant, authenticate upstream, forward, rewrite."""
