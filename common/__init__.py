"""Helpers every layer may use (input_data, models, runner, studies, the
programs): files written whole or not at all, a quiet TensorFlow start.
They import nothing of the project."""
