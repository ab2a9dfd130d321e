"""A Patients app conformance checker for a gateway or a provider FHIR server; uses only `requests`."""
