"""Everything the grader knows about the model: loading a version, encoding, caching references, points.

Nothing else imports sentence-transformers at grading time.
"""
