"""Consent records for data sharing. Stands alone: it never imports idp."""
