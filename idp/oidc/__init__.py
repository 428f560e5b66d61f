"""The OpenID Connect protocol layer: one module per endpoint."""
