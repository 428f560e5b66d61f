"""Security Event Tokens (RFC 8417) pushed to agencies (RFC 8935) from a durable outbox."""
