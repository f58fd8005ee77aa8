"""Training with Lightning: ``omrformer-train fit|validate|test|predict --config ...`` (docs/training.md).

Only the training path imports Lightning; ``omrformer transcribe`` never does.
"""
