"""FHIR building blocks the gateway speaks: versions, OperationOutcome, capability statements."""
