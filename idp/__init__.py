"""Citizen IdP: an OpenID Connect provider for a country's citizens and public services."""
