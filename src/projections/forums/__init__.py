"""The forums read model."""
