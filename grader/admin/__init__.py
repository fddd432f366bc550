"""grader's admin: the teacher's workspace and the operators' pages.

- ``scoping``: every list, form and action a teacher uses is limited to the courses they teach;
- ``courses``: courses and questions, CSV import of questions, regrade actions;
- ``submissions``: the review queue, corrections, groups, agreement, CSV export;
- ``operators``: model versions, training runs, integrations and webhooks;
- ``guard`` and ``login``: the admin's request guard and throttled login form.

- ``site``: the admin site, with the teacher's home page; it registers every model, in one place (the modules
  only define admin classes);
- ``apps``: the admin app configuration that makes that site Django's default.
"""
