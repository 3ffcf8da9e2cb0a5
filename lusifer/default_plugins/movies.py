"""Built-in movies plugin (filled in by its issue)."""
