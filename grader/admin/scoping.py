"""Every admin list, form, filter, autocomplete and action a teacher uses is limited to the courses they teach."""

from __future__ import annotations

from django.contrib import admin

from grader.models import Course, Question
from grader.workspace.selectors import courses_for_user, questions_for_user, scope_to_user


class CourseScopedAdmin(admin.ModelAdmin):
    """Rows reached from a course through ``course_path`` ("" for Course itself); superusers see everything.

    Change, delete, history and autocomplete views and every action start from ``get_queryset``, so an object
    of another course is as absent by URL as it is from the list.
    """

    course_path: str = ""

    def get_queryset(self, request):
        return scope_to_user(queryset=super().get_queryset(request), user=request.user, course_path=self.course_path)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Course:
            kwargs["queryset"] = courses_for_user(user=request.user)
        elif db_field.related_model is Question:
            kwargs["queryset"] = questions_for_user(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.related_model is Course:
            kwargs["queryset"] = courses_for_user(user=request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
