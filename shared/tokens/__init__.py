"""Access tokens: signing keys, issuance and verification."""
