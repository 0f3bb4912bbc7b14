"""The review app's screens; each renders the app's current RunSnapshot."""
