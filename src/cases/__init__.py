"""The write side of Tequio: aggregates and the application service."""
