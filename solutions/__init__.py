"""Reference solutions: the instructor's implementation of the exercise contract.

Never shipped to students; the grader compares submissions against it.
"""
