from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0004_issue4_webhook_schedule"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("hostname", models.CharField(max_length=255, unique=True)),
                ("queues", models.CharField(blank=True, max_length=255)),
                ("last_seen_at", models.DateTimeField(db_index=True)),
            ],
        ),
    ]
