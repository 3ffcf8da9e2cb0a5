"""Helpers and contract checkers for plugin authors."""
