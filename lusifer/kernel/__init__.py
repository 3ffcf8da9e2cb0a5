"""The kernel: the plugin manager and typed registries, the only code that calls plugin hooks."""
