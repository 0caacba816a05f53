"""Your exercises: fill in every function that raises NotImplementedError."""
