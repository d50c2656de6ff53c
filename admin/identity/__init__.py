"""Staff pages of the identity domain."""
