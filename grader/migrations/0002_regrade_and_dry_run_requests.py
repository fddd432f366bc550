"""Regrades and dry runs are recorded before their message is sent, so a sweeper can send it again."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="dry_run_requested_at",
            field=models.DateTimeField(
                blank=True, help_text="A dry run is wanted; cleared when one has run (grader/dispatch.py).", null=True
            ),
        ),
        migrations.AddField(
            model_name="question",
            name="regrade_requested_at",
            field=models.DateTimeField(
                blank=True,
                help_text="A regrade with the active version is wanted; cleared when one has run (grader/dispatch.py).",
                null=True,
            ),
        ),
    ]
