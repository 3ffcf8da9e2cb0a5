"""Built-in plugins. The kernel registers them like any external plugin (see lusifer.kernel.plugins)."""
