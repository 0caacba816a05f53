"""``optigrade grade``: grade a whole class and write the gradebook, results.json and feedback."""
