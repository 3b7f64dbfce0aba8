"""The staff page's enrolment command: `gateway.application.enrolment.Enrolment` built from the
page's deps (the door's decision rule, the `[provisioning]` settings, the upload decode limits);
the page's two steps and the API's one call both use it."""

from __future__ import annotations

from gateway.application.enrolment import Enrolment, EnrolSettings
from gateway.vision.decision import DecisionRule
from gateway.vision.factory import effective_thresholds
from gateway.vision.recogniser import rule_from_config
from provisioning.deps import ProvisioningDeps
from provisioning.photo_limits import UPLOAD_LIMITS
from provisioning.web import AppContext


def door_rule(deps: ProvisioningDeps) -> DecisionRule:
    """The door's decision rule: the running service's, else built like the service builds it."""
    if deps.decision_rule is not None:
        return deps.decision_rule
    vision = deps.gateway_config.vision
    if deps.models is not None:
        resident, _watch = effective_thresholds(deps.models, vision)
        return rule_from_config(vision, resident, deps.models.small_gallery_threshold)
    return rule_from_config(vision, deps.similarity_threshold)


def enrolment(context: AppContext) -> Enrolment:
    deps = context.deps
    settings = EnrolSettings(
        consent_text_version=deps.settings.consent_text_version,
        max_photos=deps.settings.max_photos_per_enrolment,
        keep_photos=deps.settings.keep_photos,
        photo_dir=deps.settings.photo_dir,
        limits=UPLOAD_LIMITS,
    )
    return Enrolment(
        deps.store,
        deps.pipeline,
        door_rule(deps),
        settings,
        now=deps.clock,
        people_changed=deps.people_changed,
    )
