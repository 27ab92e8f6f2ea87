"""The test suite; its folders mirror the code (`tests/jobs`, `tests/sandbox`, `tests/worker`, ...).

Fixtures live in `conftest.py` files; `tests/harness.py` runs the pipeline in-process on a real
redis-server and the sandbox, and `tests/contract` checks both sides against Persona's OpenAPI.
"""
