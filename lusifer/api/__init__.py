"""Contracts: what plugins implement and the kernel calls (stdlib and pydantic only, nothing else from lusifer)."""
