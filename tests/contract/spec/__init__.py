"""The reduced copy of Persona's OpenAPI the contract tests validate against, and its generator.

`regenerate.py` writes `persona-openapi-<version>.json` from Persona's published spec; its
docstring names the source and says how to regenerate.
"""
