"""Fine-tuning, evaluation and model cards. Plain Python: no Django ORM, no HTTP.

grader's services call it with plain data (pairs, paths, hyperparameters) and store what it returns, which
keeps it testable on its own and reusable by benchmarks.
"""
