"""Thin blueprints, one package per feature; they call services and render."""
