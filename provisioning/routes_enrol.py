"""Face enrolment routes: the page's two steps and the API's one-call form, over the one
enrolment command (gateway.application.enrolment).

Page, step 1 (`/enrol`): with the consent box ticked, uploaded photos (or a short capture of
several frames from the door camera) are analysed; nothing is written, only an in-memory candidate
is kept. Step 2 (`/enrol/save`): the consent record, then the templates, in one transaction. API
(`POST /api/v1/people/{id}/face-templates`): the same checks and save in one request. A face
confusable with another resident's is a warning that must be confirmed (409 on the API unless
`confirm_duplicate`); saving then sets both people to two factors.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

import cv2
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from gateway.application.enrol_photos import PhotoResult
from gateway.application.enrolment import EnrolRefused
from gateway.store.errors import CredentialPolicyError, NotFound
from provisioning.enrol_flow import enrolment
from provisioning.enrol_intake import analyse_uploads
from provisioning.enrol_session import Candidate
from provisioning.people_service import MIN_GOOD_TEMPLATES
from provisioning.routes_people import person_page
from provisioning.web import (
    Access,
    AppContext,
    Context,
    CurrentUser,
    RowId,
    access,
    actor_of,
    render,
    translator,
)

router = APIRouter()
STAFF = access(Access.STAFF)
CAPTURE_FRAMES = 5  # a short capture from the door camera: at least 3 good templates
CAPTURE_INTERVAL_S = 0.4
CAPTURE_MAX_REPEATS = 3  # the same (or no) frame this many times in a row: the camera stalled


def _refuse(request: Request, context: AppContext, person_id: int, key: str) -> Response:
    return person_page(request, context, person_id, {"errors": [translator(request)(key)]}, 400)


async def capture_frames(context: AppContext, count: int) -> list[tuple[str, bytes]]:
    """A short capture from the door camera: up to `count` different frames, about
    CAPTURE_INTERVAL_S apart (the person moves a little between them: varied templates). A
    camera that keeps returning the same frame ends the capture early."""
    frames: list[tuple[str, bytes]] = []
    last = None
    repeats = 0
    while len(frames) < count and repeats < CAPTURE_MAX_REPEATS:
        if frames or repeats:
            await asyncio.sleep(CAPTURE_INTERVAL_S)
        frame = context.deps.frame_provider()
        if frame is None or frame.image is last:
            repeats += 1
            continue
        repeats = 0
        last = frame.image
        ok, encoded = cv2.imencode(".jpg", frame.image)
        if ok:
            frames.append((f"camera-{len(frames) + 1}.jpg", encoded.tobytes()))
    return frames


async def _collect_photos(request: Request, context: AppContext) -> list[tuple[str, bytes]] | None:
    form = await request.form()
    if form.get("source") == "camera":
        count = min(CAPTURE_FRAMES, context.deps.settings.max_photos_per_enrolment)
        return await capture_frames(context, count) or None
    photos = []
    for item in form.getlist("photos"):
        if isinstance(item, StarletteUpload) and item.filename:
            photos.append((item.filename[:100], await item.read()))
    return photos


@router.post("/people/{person_id}/enrol", openapi_extra=STAFF, include_in_schema=False)
async def enrol_analyse(
    request: Request, context: Context, user: CurrentUser, person_id: RowId
) -> Response:
    form = await request.form()
    command = enrolment(context)
    try:
        if command.pipeline is not None and form.get("consent") != "on":
            raise EnrolRefused("consent_required")
        pipeline, person, others = command.prepare(person_id)
        photos = await _collect_photos(request, context)
        if photos is None:
            raise EnrolRefused("camera_unavailable")
        t = translator(request)
        results = await analyse_uploads(context, command, pipeline, photos, others, t)
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except EnrolRefused as refused:
        if refused.key == "not_found":
            raise HTTPException(404, "not_found") from None
        return _refuse(request, context, person_id, refused.key)
    candidate = Candidate(user.account_id, person_id, time.time(), results)
    key = context.enrolments.put(candidate)
    page = {
        "person": person,
        "results": results,
        "key": key,
        "candidate": candidate,
        "min_templates": MIN_GOOD_TEMPLATES,
    }
    return render(request, "enrol_review.html", page)


@router.post("/people/{person_id}/enrol/save", openapi_extra=STAFF, include_in_schema=False)
def enrol_save(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    key: Annotated[str, Form(max_length=100)],
    confirm_duplicate: Annotated[bool, Form()] = False,
) -> Response:
    candidate = context.enrolments.take(key, user.account_id, person_id)  # one save per check
    if candidate is None:
        return _refuse(request, context, person_id, "enrolment_expired")
    if candidate.has_duplicate and not confirm_duplicate:
        context.enrolments.restore(key, candidate)
        return _refuse(request, context, person_id, "duplicate_unconfirmed")
    consent_at = datetime.fromtimestamp(candidate.consent_at, UTC)
    try:
        saved = enrolment(context).save(
            actor_of(request, user), person_id, candidate.photos, consent_at
        )
    except EnrolRefused as refused:
        return _refuse(request, context, person_id, refused.key)
    except CredentialPolicyError:
        return _refuse(request, context, person_id, "needs_other_credential")
    except NotFound:
        raise HTTPException(404, "not_found") from None
    message = "templates_saved_two_factor" if saved.two_factor_set else "templates_saved"
    return RedirectResponse(f"/people/{person_id}?msg={message}", status_code=303)


def photo_report(result: PhotoResult) -> dict[str, object]:
    return {
        "name": result.name,
        "faces": result.faces,
        "usable": result.usable,
        "messages": result.messages,
        "measures": result.measures,
        "duplicate_of": result.duplicate_of,
        "duplicate_score": result.duplicate_score,
        "confusable_with": sorted(result.confusable),
    }


@router.post("/api/v1/people/{person_id}/face-templates", openapi_extra=STAFF, status_code=201)
async def api_enrol(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    photos: Annotated[list[UploadFile], File(description="1-5 photos of this person alone")],
    consent: Annotated[bool, Form(description="The person consented to face recognition")],
    consent_text_version: Annotated[str, Form(max_length=32)],
    confirm_duplicate: Annotated[bool, Form()] = False,
) -> JSONResponse:
    """Check the photos and store one template per usable photo (consent recorded first)."""
    t = translator(request)
    if not consent or consent_text_version != context.deps.settings.consent_text_version:
        raise HTTPException(422, "consent_required")
    command = enrolment(context)
    try:
        pipeline, _person, others = command.prepare(person_id)
        files = [((p.filename or "photo")[:100], await p.read()) for p in photos]
        results = await analyse_uploads(context, command, pipeline, files, others, t)
        report = [photo_report(r) for r in results]
        if any(r.duplicate_of for r in results if r.usable) and not confirm_duplicate:
            refusal = {"detail": "duplicate_unconfirmed", "photos": report}
            return JSONResponse(refusal, status_code=409)
        if not any(r.usable for r in results):
            return JSONResponse({"detail": "no_usable_photo", "photos": report}, 422)
        saved = command.save(actor_of(request, user), person_id, results, datetime.now(UTC))
    except NotFound:
        raise HTTPException(404, "not_found") from None
    except EnrolRefused as refused:
        raise HTTPException(refused.status, refused.key) from None
    except CredentialPolicyError:
        raise HTTPException(400, "needs_other_credential") from None
    body = {
        "saved": saved.templates,
        "photos": report,
        "confusable_with": saved.confusable_with,
        "two_factor_set": saved.two_factor_set,
    }
    return JSONResponse(body, status_code=201)
