"""Redis state: key names, the per-inquiry records and in-flight index, exactly-once publication."""
