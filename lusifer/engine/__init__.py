"""The engine: the stateless data path from histories to validated feedback (it receives its collaborators)."""
