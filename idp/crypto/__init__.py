"""Signing keys and JOSE."""
