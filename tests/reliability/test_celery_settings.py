"""The relations between Celery settings that the fault tests rely on, so a later change cannot quietly break them."""

from django.conf import settings

from grader import tasks  # noqa: F401  (registers the tasks with the app)
from grader.celery import app

GRADER_TASKS = ["grader.tasks.grade_submission", "grader.tasks.requeue_stale_submissions", "grader.tasks.retrain_model"]


def test_every_task_has_a_soft_limit_below_its_hard_limit():
    for name in GRADER_TASKS:
        task = app.tasks[name]
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name


def test_redis_visibility_timeout_outlasts_the_longest_task():
    longest = max(app.tasks[name].time_limit or app.conf.task_time_limit for name in GRADER_TASKS)
    assert app.conf.broker_transport_options["visibility_timeout"] > longest


def test_grading_lease_outlasts_the_grading_task_so_a_live_grade_is_never_taken_for_dead():
    assert settings.GRADER_GRADING_LEASE_SECONDS > app.tasks["grader.tasks.grade_submission"].time_limit


def test_messages_are_json_only_acknowledged_late_and_prefetched_one_at_a_time():
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1


def test_publishing_gives_up_quickly_when_the_broker_is_down():
    policy = app.conf.task_publish_retry_policy
    assert policy["max_retries"] <= 3 and policy["interval_max"] <= 1
    options = app.conf.broker_transport_options
    assert options["socket_timeout"] and options["socket_connect_timeout"]
