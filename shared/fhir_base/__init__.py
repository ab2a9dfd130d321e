"""The /fhir/ bases (the default one and /fhir/DSTU2/, /fhir/STU3/, /fhir/R4/): discovery documents, routing."""
