"""The staff area: roles, identity proofing review, citizens, agencies and the audit log."""
