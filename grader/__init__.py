"""grader: automated short-answer grading."""

from grader.celery import app as celery_app

__all__ = ["celery_app"]
