"""The FHIR version bridge: resources, Bundles and requests translated between DSTU2, STU3 and R4."""
