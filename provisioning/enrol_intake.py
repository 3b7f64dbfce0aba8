"""Uploaded enrolment photos on their way to the analysis: a photo whose header declares too many
pixels refuses the whole request before anything is decoded (422 `photo_too_large`, counted and
logged); the others are decoded and analysed by the enrolment command on the app's
`PhotoWorker`, off the event loop."""

from __future__ import annotations

import logging

from gateway.application.enrol_photos import Others, PhotoResult
from gateway.application.enrolment import Enrolment, EnrolRefused
from gateway.vision.analyser import FaceAnalyser
from provisioning.i18n import Translator
from provisioning.photo_limits import oversized
from provisioning.web import AppContext

LOG = logging.getLogger("menwei.provisioning")


async def analyse_uploads(
    context: AppContext,
    command: Enrolment,
    pipeline: FaceAnalyser,
    photos: list[tuple[str, bytes]],
    others: Others,
    t: Translator,
) -> list[PhotoResult]:
    """`Enrolment.analyse` behind the header check, in the photo worker thread."""
    problems = oversized(photos[: context.deps.settings.max_photos_per_enrolment])
    if problems:
        context.counters.add("photo_too_large", len(problems))
        LOG.warning("enrolment photos refused before decoding: %s", "; ".join(problems))
        raise EnrolRefused("photo_too_large", 422)
    return await context.photo_worker.run(command.analyse, pipeline, photos, others, t)
