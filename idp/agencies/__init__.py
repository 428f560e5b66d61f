"""Relying agencies and their clients."""
