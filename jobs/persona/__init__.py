"""Persona's REST API, typed: the client, its request builders and response readers, the models,
the template id kinds, the API error tree and the shared rate limiter.

This package depends on nothing else of ours: the caller hands it its configuration (base URL,
key, version, limits), so it can be read, tested and reused on its own.
"""
