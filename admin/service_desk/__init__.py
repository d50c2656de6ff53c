"""Staff pages of the service desk domain."""
