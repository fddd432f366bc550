"""What the teacher's workspace reads and shows: scoped selectors, agreement, charts, explanations, CSV in and out.

The admin pages that use them live in ``grader.admin``; writes live in ``grader.services``.
"""
