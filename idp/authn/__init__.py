"""How a citizen proves who they are: one module per method, plus sessions."""
