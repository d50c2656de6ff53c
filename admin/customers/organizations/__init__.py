"""Staff organization pages: list and search, create and edit, the tree, onboarding."""
