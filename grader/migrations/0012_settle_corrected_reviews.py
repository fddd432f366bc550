"""A teacher's correction now settles a submission awaiting review; settle the ones corrected before that rule.

Until then a corrected ``needs_review`` submission kept its status, so it went on showing to the LMS and in the
workspace as awaiting review although a teacher had graded it.
"""

from django.db import migrations
from django.db.models.functions import Now


def settle_corrected_reviews(apps, schema_editor):
    Submission = apps.get_model("grader", "Submission")
    Submission.objects.filter(status="needs_review", corrected_points__isnull=False).update(
        # Every status change moves updated_at, so an LMS polling with updated_since sees it.
        status="graded",
        updated_at=Now(),
    )


class Migration(migrations.Migration):
    dependencies = [("grader", "0011_webhooks_queue")]

    # Not reversible into the old state (which rows were settled here is not recorded), and nothing needs it to be.
    operations = [migrations.RunPython(settle_corrected_reviews, migrations.RunPython.noop)]
