"""HTTP surfaces that serve what the engine holds to other systems (the FHIR read API)."""
