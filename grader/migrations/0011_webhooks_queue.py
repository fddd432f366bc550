"""Webhook deliveries moved to their own queue: the beat entry that re-enqueues due deliveries follows them.

Beat publishes with the queue stored on the PeriodicTask row, which overrides the task's own routing, so the
row written by 0004 must change too. A queue an operator chose in the admin is left alone.
"""

from django.db import migrations

NAME = "Re-enqueue webhook deliveries that are due"


def to_webhooks_queue(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME, queue="grading").update(queue="webhooks")


def to_grading_queue(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME, queue="webhooks").update(queue="grading")


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0010_idempotency_key_expiry"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(to_webhooks_queue, to_grading_queue)]
