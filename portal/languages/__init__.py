"""The portal's language switch, at the foot of every portal page."""
