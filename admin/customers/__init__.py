"""Staff pages of the customers domain."""
