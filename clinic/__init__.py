"""clinic package."""
