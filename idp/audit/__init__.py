"""The audit trail: who did what, when. Never token values, secrets or personal data."""
