"""omrformer."""
