"""The portal home: what a signed-in contact's level lets them see."""
