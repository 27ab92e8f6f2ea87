"""Contract tests: our client and our sandbox against Persona's official OpenAPI subsets."""
