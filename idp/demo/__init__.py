"""A small sample agency app that signs in through the provider."""
