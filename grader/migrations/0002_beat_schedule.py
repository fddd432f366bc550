"""The periodic jobs, stored in the database so operators can change them in the admin."""

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
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    hourly, _ = IntervalSchedule.objects.get_or_create(every=3600, period="seconds")
    # Beat publishes with the queue stored on the row, which overrides the task's own routing.
    for name, task, schedule, queue in [
        ("Retrain the model on teachers' corrections", "grader.tasks.retrain_model", {"crontab": nightly}, "training"),
        (
            "Re-enqueue submissions stuck in queued or grading",
            "grader.tasks.requeue_stale_submissions",
            {"interval": every_minute},
            "grading",
        ),
        (
            "Re-enqueue webhook deliveries that are due",
            "grader.tasks.requeue_due_webhook_deliveries",
            {"interval": every_minute},
            "webhooks",
        ),
        (
            "Delete expired idempotency keys",
            "grader.tasks.purge_expired_idempotency_keys",
            {"interval": hourly},
            "grading",
        ),
    ]:
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "queue": queue, **schedule})


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
