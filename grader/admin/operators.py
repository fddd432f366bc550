"""Operators' admin: model versions, training runs, integrations and webhooks.

Teachers see versions, runs and metrics read-only; integrations and webhooks serve several schools' courses, so
changing them is an operator's (superuser's) job."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from grader import dispatch
from grader.models import ModelVersion, TrainingRun, WebhookDelivery
from grader.services.integrations import integration_rotate_token
from grader.services.model_versions import model_version_activate
from grader.services.regrading import model_version_dry_run_request
from grader.services.training_runs import TrainingAlreadyRunning, training_runs_recover
from grader.services.webhooks import webhook_delivery_replay
from grader.workspace.selectors import integrations_for_user

# One active version grades every course, so whoever changes it changes every course's grades. Superusers have
# this permission implicitly; course teachers are not given it and see versions, runs and metrics read-only.
OPERATE_MODELS = "grader.operate_models"


class ModelLifecycleAdmin(admin.ModelAdmin):
    """Viewing is open to staff with the view permission; every change of the model needs OPERATE_MODELS."""

    def has_add_permission(self, request):
        return False

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm(OPERATE_MODELS)

    def has_change_permission(self, request, obj=None):
        return self.has_operate_permission(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_operate_permission(request) and super().has_delete_permission(request, obj)


class ModelVersionAdmin(ModelLifecycleAdmin):
    list_display = [
        "name", "status", "parent", "gate_rmse", "gate_pearson", "gate_accuracy", "gate_interval", "verdict",
        "created_at", "activated_at",
    ]  # fmt: skip
    list_filter = ["status"]
    readonly_fields = [
        "name",
        "parent",
        "status",
        "artifact_path",
        "sha256",
        "comparison_display",
        "gate_summary",
        "evaluation",
        "dry_run",
        "metrics",
        "model_card",
        "created_at",
        "activated_at",
    ]
    actions = ["activate", "dry_run_diff"]

    # The gate's grade-level comparison on the held-out answers: this version / the version it would replace.
    @admin.display(description="RMSE (this / replaced)")
    def gate_rmse(self, obj: ModelVersion) -> str:
        return _side_by_side(_gate(obj), "rmse")

    @admin.display(description="Pearson (this / replaced)")
    def gate_pearson(self, obj: ModelVersion) -> str:
        return _side_by_side(_gate(obj), "pearson")

    @admin.display(description="pass/fail accuracy (this / replaced)")
    def gate_accuracy(self, obj: ModelVersion) -> str:
        return _side_by_side(_gate(obj), "pass_fail_accuracy")

    @admin.display(description="gain interval")
    def gate_interval(self, obj: ModelVersion) -> str:
        gate = _gate(obj)
        interval = (gate.get("intervals") or {}).get(gate.get("primary"))
        if not interval or interval.get("low") is None:
            return "-"
        return f"{gate['primary']} {interval['low']:+.3f} to {interval['high']:+.3f} ({gate['confidence']:.0%})"

    @admin.display(description="gate")
    def verdict(self, obj: ModelVersion) -> str:
        return _gate(obj).get("reason", "")

    @admin.display(description="gate: held-out grades, this version vs the one it would replace")
    def gate_summary(self, obj: ModelVersion) -> str:
        gate = _gate(obj)
        if not isinstance(gate.get("candidate"), dict):
            return gate.get("reason", "-")
        intervals = gate.get("intervals") or {}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (label, _number(gate["candidate"].get(name)), _number(gate["replaced"].get(name)),
                 _interval(intervals.get(name)))
                for name, label in GATE_LABELS.items()
            ),
        )  # fmt: skip
        adversarial = gate.get("adversarial") or {}
        caught = (
            format_html(
                "<p>Adversarial benchmark, dev half ({} answers): answers built to fool the grader caught {} / {}</p>",
                adversarial["n"], _share(adversarial.get("candidate")), _share(adversarial.get("replaced")),
            )
            if adversarial.get("n")
            else ""
        )  # fmt: skip
        return format_html(
            "<p>{}</p><table><tr><th>on {} held-out answers</th><th>this version</th><th>replaced</th>"
            "<th>gain, {} interval</th></tr>{}</table>{}",
            gate.get("reason", ""), gate["candidate"].get("n"), f"{gate.get('confidence', 0):.0%}", rows, caught,
        )  # fmt: skip

    @admin.display(description="this version beside the one it would replace")
    def comparison_display(self, obj: ModelVersion) -> str:
        comparison = (obj.evaluation or {}).get("comparison")
        if not comparison:
            return "-"
        this, replaced = comparison["candidate"], comparison["replaced"]
        confidence = f"{comparison.get('confidence') or 0:.0%}"
        rows = [
            (label, _with_interval(this.get(name)), _with_interval(replaced.get(name)))
            for name, label in GATE_LABELS.items()
        ]
        rows.append(("corrections learned from", _count(this.get("corrections_learned_from")),
                     _count(replaced.get("corrections_learned_from"))))  # fmt: skip
        table = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "<p><strong>{}</strong></p><table><tr><th>on {} held-out answers teachers corrected ({} intervals)</th>"
            "<th>{} (this)</th><th>{} (replaced)</th></tr>{}</table>{}",
            comparison.get("reason", ""), comparison.get("held_out_answers", 0), confidence, this.get("version"),
            replaced.get("version") or "-", table, _dry_run_html(comparison.get("dry_run")),
        )  # fmt: skip

    @admin.action(description="Activate the selected version (rollback or promote)", permissions=["operate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", level=messages.ERROR)
            return
        model_version_activate(version=queryset.get())
        self.message_user(request, "Activated; workers grade new submissions with it from now on.")

    @admin.action(
        description="Dry run: how would existing auto grades change with this version?", permissions=["operate"]
    )
    def dry_run_diff(self, request, queryset):
        for version in queryset:
            model_version_dry_run_request(version=version)
        self.message_user(request, "Dry run queued on the training workers; its report appears on each version.")


GATE_LABELS = {"rmse": "RMSE (points)", "pearson": "Pearson", "pass_fail_accuracy": "pass/fail accuracy"}


def _gate(version: ModelVersion) -> dict:
    return (version.evaluation or {}).get("gate") or {}


def _side_by_side(gate: dict, metric: str) -> str:
    # Versions gated before the grade-level gate recorded bare numbers here, not both versions' metrics.
    if not isinstance(gate.get("candidate"), dict):
        return "-"
    return f"{_number(gate['candidate'].get(metric))} / {_number(gate['replaced'].get(metric))}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _with_interval(metric: dict | None) -> str:
    if not metric or metric.get("value") is None:
        return "-"
    interval = metric.get("interval") or [None, None]
    if interval[0] is None:
        return _number(metric["value"])
    return f"{metric['value']:.3f} ({interval[0]:.3f} to {interval[1]:.3f})"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _dry_run_html(dry_run: dict | None) -> str:
    """How existing uncorrected grades would change with this version. Examples link to their submissions, not
    their texts: this page is open to every staff member, a submission's page only to its course's teachers."""
    if not dry_run:
        return format_html("<p>{}</p>", "No dry run (the first version has no grades to compare with).")
    summary = format_html(
        "<p>Dry run on the {} most recent uncorrected grades: {} would change ({} up, {} down), by {} points on "
        "average (largest {}); {} would cross the pass mark ({} from pass to fail).</p>",
        dry_run.get("sampled"), dry_run.get("changed"), dry_run.get("raised"), dry_run.get("lowered"),
        f"{dry_run.get('mean_abs_change') or 0:.2f}", f"{dry_run.get('max_abs_change') or 0:.2f}",
        dry_run.get("crossing_pass_mark", "-"), dry_run.get("passing_to_failing", "-"),
    )  # fmt: skip
    examples = dry_run.get("examples") or []
    if not examples:
        return summary
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td><a href=\"{}\">submission {}</a></td><td>{} → {} / {}</td></tr>",
        (
            (f"{e['course']}/{e['question']}", reverse("admin:grader_submission_change", args=[e["submission"]]),
             e["submission"], _points(e["points"]), _points(e["new_points"]), _points(e["max_points"]))
            for e in examples
        ),
    )  # fmt: skip
    return format_html(
        "{}<table><tr><th>question</th><th>answer</th><th>points now → with this version</th></tr>{}</table>",
        summary,
        rows,
    )


def _points(value: float) -> str:
    return f"{value:g}"


def _interval(interval: dict | None) -> str:
    if not interval or interval.get("low") is None:
        return "-"
    return f"{interval['improvement']:+.3f} ({interval['low']:+.3f} to {interval['high']:+.3f})"


class TrainingRunAdmin(ModelLifecycleAdmin):
    list_display = [
        "id", "status", "trigger", "progress_display", "base_version", "produced_version", "dataset_size",
        "reason", "started_at", "finished_at",
    ]  # fmt: skip
    list_filter = ["status", "trigger"]
    readonly_fields = [field.name for field in TrainingRun._meta.fields]
    actions = ["recover_dead_runs"]
    change_list_template = "admin/grader/trainingrun/change_list.html"

    @admin.display(description="progress")
    def progress_display(self, obj: TrainingRun) -> str:
        progress = obj.progress or {}
        if progress.get("step") is None:
            return "-"
        loss = progress.get("loss")
        eta = progress.get("eta_seconds")
        text = f"step {progress['step']}/{progress.get('max_steps')}"
        text += f", loss {float(loss):.4f}" if loss is not None else ""
        return text + (f", ETA {eta:.0f} s" if eta is not None and obj.status == TrainingRun.Status.RUNNING else "")

    def get_urls(self):
        urls = super().get_urls()
        retrain = path("retrain-now/", self.admin_site.admin_view(self.retrain_now), name="grader_trainingrun_retrain")
        return [retrain, *urls]

    def retrain_now(self, request):
        """POST only: queue a retrain on the training workers; the gate still decides whether it is promoted."""
        if request.method != "POST" or not self.has_operate_permission(request):
            raise PermissionDenied
        # Nothing to commit first: the view writes nothing, the training worker records the run.
        if dispatch.enqueue_retrain(trigger=f"admin:{request.user.get_username()}", force=True):
            self.message_user(request, "Retraining queued; its run appears here when a training worker starts it.")
        else:
            self.message_user(
                request,
                "The broker is unreachable, so nothing was queued; the scheduled retrain will train on the same "
                "corrections.",
                level=messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:grader_trainingrun_changelist"))

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_operate_models": self.has_operate_permission(request)}
        return super().changelist_view(request, extra_context)

    @admin.action(description="Mark failed the runs whose training process died", permissions=["operate"])
    def recover_dead_runs(self, request, queryset):
        try:
            count = training_runs_recover()
        except TrainingAlreadyRunning as busy:
            self.message_user(request, f"Nothing to recover: {busy}", level=messages.WARNING)
            return
        self.message_user(request, f"{count} run(s) marked failed.")


class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "token_prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["token_prefix", "token_sha256", "created_at", "last_used_at"]
    filter_horizontal = ["courses"]

    def get_queryset(self, request):
        return integrations_for_user(user=request.user)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # An integration may also serve courses a teacher does not teach; they need not learn those exist.
        return fields if request.user.is_superuser else [name for name in fields if name != "courses"]

    def has_add_permission(self, request):
        # A token must be shown exactly once: `python manage.py create_integration`.
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    actions = ["rotate_token"]

    @admin.action(
        description="Rotate the token (the old one stops working; the new one is shown once)",
        permissions=["change"],
    )
    def rotate_token(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one integration.", level=messages.ERROR)
            return
        integration = queryset.get()
        token = integration_rotate_token(integration=integration)
        self.message_user(request, f"New token for {integration}: {token} (copy it now; it is not stored).")


# Webhook endpoints and the delivery log; a failed delivery can be sent again from here.
class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Webhooks belong to integrations, which may serve several schools' courses: an operator's tool."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    # Django opens the list and change pages to the change permission alone, and its filters list every
    # integration's name: each permission needs the superuser, whatever permissions a teacher was given.
    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.none()


class WebhookEndpointAdmin(SuperuserOnlyAdmin):
    list_display = ["id", "integration", "url", "events", "is_active", "created_at"]
    list_filter = ["is_active", "integration"]
    readonly_fields = ["integration", "url", "events", "created_at"]
    exclude = ["secret"]  # the HMAC key stays out of pages and logs; endpoints are registered through the API


class WebhookDeliveryAdmin(SuperuserOnlyAdmin):
    list_display = [
        "id",
        "event_type",
        "endpoint",
        "submission",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ]
    list_filter = ["status", "event_type", "endpoint__integration"]
    search_fields = ["event_id", "endpoint__url"]
    list_select_related = ["endpoint", "endpoint__integration"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions = ["replay"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Send the selected deliveries again (same event id and signed body)")
    def replay(self, request, queryset):
        deliveries = list(queryset.select_related("endpoint"))
        for delivery in deliveries:
            webhook_delivery_replay(delivery=delivery)
        self.message_user(request, f"{len(deliveries)} delivery(ies) queued again; see the new rows for results.")
