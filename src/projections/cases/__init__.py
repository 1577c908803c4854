"""The cases read model."""
