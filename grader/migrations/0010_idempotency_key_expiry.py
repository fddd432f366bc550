"""Idempotency keys expire: created_at is indexed for the purge, and beat runs the purge every hour."""

from django.db import migrations, models


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=3600, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Delete expired idempotency keys",
        defaults={"task": "grader.tasks.purge_expired_idempotency_keys", "interval": hourly, "queue": "grading"},
    )


def delete_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name="Delete expired idempotency keys").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0009_course_archived_at"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
        migrations.RunPython(create_schedule, delete_schedule),
    ]
