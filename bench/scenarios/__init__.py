"""The benchmark scenarios, one module each; `bench.__main__` runs them in order."""
