"""The commitments read model."""
