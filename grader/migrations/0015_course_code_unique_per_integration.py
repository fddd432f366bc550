from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grader", "0014_model_version_operator_permission"),
    ]

    operations = [
        migrations.AlterField(
            model_name="course",
            name="code",
            field=models.SlugField(max_length=64),
        ),
    ]
