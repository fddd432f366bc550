"""The teacher's workspace in the Django admin: scoping, review queue, groups, agreement, CSV in and out.

Reads live in ``grader.workspace.selectors``, writes in ``grader.services``; the admin classes stay thin.
"""
