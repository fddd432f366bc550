from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0016_submission_claim_holder"),
    ]

    operations = [
        migrations.AddField(
            model_name="workerheartbeat",
            name="incarnation",
            field=models.CharField(
                blank=True, help_text="The worker process behind the hostname now; claims name it.", max_length=32
            ),
        ),
        migrations.AlterField(
            model_name="workerheartbeat",
            name="last_seen_at",
            field=models.DateTimeField(db_index=True, help_text="By the database's clock."),
        ),
    ]
