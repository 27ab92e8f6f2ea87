"""Redis state: key names, connections, the per-inquiry records and in-flight index, job attempts,
exactly-once publication and the one reader of the results stream.
"""
