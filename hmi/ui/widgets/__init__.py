"""Small reusable widgets and painters (alarm glyph, analog bar, value label)."""
