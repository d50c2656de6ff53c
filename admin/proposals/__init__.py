"""Staff pages of the proposals domain."""
