"""The scorecards read model."""
