"""Built-in evaluators plugin (filled in by its issue)."""
