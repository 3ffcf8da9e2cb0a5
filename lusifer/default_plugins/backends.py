"""Built-in backends plugin (filled in by its issue)."""
