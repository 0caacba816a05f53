"""Per-student numeric quizzes for the lecture 最佳化方法: handouts, answer keys, LMS exports, grading.

Entry points: :func:`quiz_bank.build.build_quiz`, :func:`quiz_bank.grade.grade_responses`,
the typer app :data:`quiz_bank.cli.quiz_app` (``optigrade quiz build|grade``) and
:func:`quiz_bank.demo.build_demo`.  Every answer is computed by ``solutions/``; the
one number rule lives in :mod:`quiz_bank.numbers`.  See README.md beside this file.
"""
