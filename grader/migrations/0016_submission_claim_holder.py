from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0015_course_code_unique_per_integration"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="grading_claim",
            field=models.CharField(blank=True, help_text="Unique per claim; the grade needs it.", max_length=32),
        ),
        migrations.AddField(
            model_name="submission",
            name="grading_pid",
            field=models.PositiveIntegerField(blank=True, help_text="That worker's pool process.", null=True),
        ),
        migrations.AddField(
            model_name="submission",
            name="grading_task_retries",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="Which try of that task: a later try of the same task may take the claim back."
            ),
        ),
        migrations.AddField(
            model_name="submission",
            name="grading_worker",
            field=models.CharField(
                blank=True,
                help_text="The worker (its heartbeat's incarnation) whose process holds the claim.",
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="submission",
            name="grading_started_at",
            field=models.DateTimeField(blank=True, help_text="By the database's clock.", null=True),
        ),
        migrations.AlterField(
            model_name="submission",
            name="grading_task_id",
            field=models.CharField(blank=True, help_text="The Celery task holding the claim.", max_length=64),
        ),
    ]
