"""Training loops sharing one ``train_step`` (floor 3)."""
