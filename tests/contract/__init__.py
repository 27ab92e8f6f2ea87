"""Contract tests: our client and our sandbox against Persona's official OpenAPI.

The spec is the reduced copy committed in `spec/`.
"""
