"""Who teaches a course: added and removed by an operator, a colleague (admin) or the course's LMS (API).

Teaching a course is what opens its answers to an account in the admin and lets an integration name it in a
correction, so every way in is narrow:

- a superuser (operator) picks any account in the admin;
- a course's teacher adds a colleague who already has a staff account, by exact username or e-mail (nothing is
  listed to browse), and removes no one: taking a teacher off a course is an operator's decision;
- an integration adds, by username, a new account (created then, without admin access) or an account that
  already teaches one of its own courses. Usernames are global and an LMS knows only its own people: an account
  it has never been given is refused, never attached, so one school's LMS cannot open its course to another
  school's teacher who happens to share a username. It removes teachers of its own courses only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from grader.models import Course, Integration


@dataclass(frozen=True)
class TeacherAdded:
    teacher: User
    added: bool  # False: already a teacher of the course (nothing changed)
    account_created: bool


def course_teachers(*, course: Course) -> QuerySet:
    return course.teachers.order_by("username")


def may_use_admin(user: User) -> bool:
    """Whether the account can log in to the admin as it is (an operator may still have to give permissions)."""
    return user.is_active and user.is_staff and user.has_usable_password()


def course_teacher_add(*, course: Course, teacher: User) -> bool:
    """Make ``teacher`` a teacher of ``course``; False if they already were. The operator's way in."""
    if course.teachers.filter(pk=teacher.pk).exists():
        return False
    course.teachers.add(teacher)
    return True


def colleague_account(*, identifier: str) -> User:
    """The active staff account with this exact username, or else this e-mail; a ValidationError otherwise."""
    identifier = identifier.strip()
    accounts = get_user_model().objects.filter(is_active=True, is_staff=True)
    by_username = accounts.filter(username=identifier).first() if identifier else None
    if by_username is not None:
        return by_username
    by_email = list(accounts.filter(email__iexact=identifier).order_by("pk")[:2]) if "@" in identifier else []
    if not by_email:
        raise ValidationError("No active staff account has this username or e-mail; an administrator creates it.")
    if len(by_email) > 1:
        raise ValidationError("More than one account has this e-mail: give the username.")
    return by_email[0]


def course_teacher_add_colleague(*, course: Course, by: User, identifier: str) -> TeacherAdded:
    """A teacher of ``course`` (or an operator) adds a colleague: an active staff account, by username or e-mail."""
    if not (by.is_superuser or course.teachers.filter(pk=by.pk).exists()):
        raise ValidationError("Only a teacher of this course adds colleagues to it.")
    teacher = colleague_account(identifier=identifier)
    added = course_teacher_add(course=course, teacher=teacher)
    return TeacherAdded(teacher=teacher, added=added, account_created=False)


@transaction.atomic
def course_teacher_add_for_integration(
    *, course: Course, integration: Integration, username: str, email: str = ""
) -> TeacherAdded:
    """``integration`` makes ``username`` a teacher of its ``course`` (the caller has scoped ``course`` already).

    Unknown: the account is created, active but without admin access (not staff, no password): the LMS can name
    it in corrections at once, and an operator gives it a password and the teacher permissions for the admin.
    Known: it must already teach one of the integration's courses. Adding a teacher twice changes nothing.
    """
    user_model = get_user_model()
    teacher = user_model.objects.filter(username=username).first()
    created = False
    if teacher is None:
        try:
            with transaction.atomic():
                teacher = user_model(username=username, email=email, is_staff=False, is_active=True)
                teacher.set_unusable_password()
                teacher.full_clean()
                teacher.save()
                created = True
        except IntegrityError:
            # A concurrent request created the same username first; treat it as known.
            teacher = user_model.objects.get(username=username)
    if not created and not integration.courses.filter(teachers=teacher).exists():
        raise ValidationError(
            {
                "username": [
                    "This username belongs to an account that teaches none of your courses; "
                    "an operator adds it to the course in the admin."
                ]
            }
        )
    added = course_teacher_add(course=course, teacher=teacher)
    return TeacherAdded(teacher=teacher, added=added, account_created=created)


def course_teacher_remove(*, course: Course, username: str) -> bool:
    """``username`` no longer teaches ``course`` (the account stays); False if they did not. Repeating is harmless."""
    teacher = course.teachers.filter(username=username).first()
    if teacher is None:
        return False
    course.teachers.remove(teacher)
    return True
