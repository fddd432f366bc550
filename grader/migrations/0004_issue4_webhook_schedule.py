"""Beat sweeps webhook deliveries whose retry message was lost (broker down) or whose worker died."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Re-enqueue webhook deliveries that are due",
        defaults={"task": "grader.tasks.requeue_due_webhook_deliveries", "interval": every_minute, "queue": "grading"},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0003_issue4_api"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
