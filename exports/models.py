"""Tables owned by exports: what it issues (records, credentials) and the keys it signs with."""
