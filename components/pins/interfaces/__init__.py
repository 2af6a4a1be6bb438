"""Interface records of the pinned runtimes, derived from their artifacts (one module per runtime)."""
