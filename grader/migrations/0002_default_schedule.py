"""The default schedule, stored in the database so operators can change it in the admin."""

from django.conf import settings
from django.db import migrations


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    minute, hour, day_of_month, month_of_year, day_of_week = settings.GRADER_RETRAIN_CRONTAB.split()
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week,
        timezone="UTC",
    )  # fmt: skip
    PeriodicTask.objects.get_or_create(
        name="Retrain the model on teachers' corrections",
        defaults={"task": "grader.tasks.retrain_model", "crontab": nightly, "queue": "training"},
    )
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Re-enqueue submissions stuck in queued or grading",
        defaults={"task": "grader.tasks.requeue_stale_submissions", "interval": every_minute, "queue": "grading"},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
