"""Staff pages of the mail domain."""
