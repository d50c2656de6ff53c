"""Staff pages about the background worker."""
