"""The timelines read model."""
