"""The directory read model."""
