"""Small reusable widgets, each with its DEFAULT_CSS beside it."""
