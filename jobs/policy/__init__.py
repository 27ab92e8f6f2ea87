"""Pure policies, tested without I/O: which statuses end polling, and when to check again."""
