"""Training code, one module per trainable model."""
