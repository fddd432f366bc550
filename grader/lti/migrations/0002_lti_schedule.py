"""Beat re-enqueues LTI scores whose retry message was lost, and clears expired launch state."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    every_hour, _ = IntervalSchedule.objects.get_or_create(every=3600, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Re-enqueue LTI scores that are due",
        defaults={"task": "grader.lti.tasks.requeue_due_lti_scores", "interval": every_minute, "queue": "webhooks"},
    )
    PeriodicTask.objects.get_or_create(
        name="Purge expired LTI launch state",
        defaults={
            "task": "grader.lti.tasks.purge_expired_lti_launch_state",
            "interval": every_hour,
            "queue": "webhooks",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("lti", "0001_platforms_launches_scores"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
