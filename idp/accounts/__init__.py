"""Citizen accounts."""
