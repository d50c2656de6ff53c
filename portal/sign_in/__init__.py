"""Portal sign-in: email, then a single-use link or a one-time code; sign out."""
