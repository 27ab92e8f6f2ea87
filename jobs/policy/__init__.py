"""Pure policies, tested without I/O: which statuses end polling, when to check again, and how
long a failed job waits before it runs again."""
