"""Simulation: the paper's two phases (evolving profiles, then feedback), online feedback, runs."""
