from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0013_submission_claimable_index"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="modelversion",
            options={
                "ordering": ["-created_at"],
                "permissions": [("operate_models", "Can retrain, activate, roll back and dry-run model versions")],
            },
        ),
    ]
