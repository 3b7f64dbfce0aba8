"""Face enrolment: consent first, photos checked one by one, duplicate warning, then saved.

Step 1 (`/enrol`): with the consent box ticked, uploaded photos (or one frame from the door
camera) are analysed; nothing is written, only an in-memory candidate is kept. Step 2
(`/enrol/save`): in one transaction the consent record (text version, time, who took it) is
stored first, then one encrypted template per usable photo; the photos are discarded unless the
admin enabled keeping them. The store refuses templates without consent or a card/PIN.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import cv2
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from gateway.store.credentials import (
    has_alternative_credential,
    record_consent,
    store_face_template,
)
from gateway.store.errors import CredentialPolicyError, NotFound
from gateway.store.people import get_person
from provisioning.enrol_analysis import analyse_photo, others_gallery
from provisioning.enrol_session import Candidate, PhotoResult
from provisioning.routes_people import person_page
from provisioning.web import (
    Access,
    AppContext,
    Context,
    CurrentUser,
    RowId,
    access,
    audit,
    render,
    translator,
)

router = APIRouter()
STAFF = access(Access.STAFF)


def _refuse(request: Request, context: AppContext, person_id: RowId, key: str) -> Response:
    return person_page(request, context, person_id, {"errors": [translator(request)(key)]}, 400)


async def _collect_photos(request: Request, context: AppContext) -> list[tuple[str, bytes]] | None:
    form = await request.form()
    if form.get("source") == "camera":
        frame = context.deps.frame_provider()
        if frame is None:
            return None
        ok, encoded = cv2.imencode(".jpg", frame.image)
        return [("camera.jpg", encoded.tobytes())] if ok else None
    photos = []
    for item in form.getlist("photos"):
        if isinstance(item, UploadFile) and item.filename:
            photos.append((item.filename[:100], await item.read()))
    return photos


@router.post("/people/{person_id}/enrol", openapi_extra=STAFF, include_in_schema=False)
async def enrol_analyse(
    request: Request, context: Context, user: CurrentUser, person_id: RowId
) -> Response:
    deps = context.deps
    pipeline = deps.pipeline
    form = await request.form()
    if pipeline is None:
        return _refuse(request, context, person_id, "pipeline_missing")
    if form.get("consent") != "on":
        return _refuse(request, context, person_id, "consent_required")
    with deps.store.sessions.reading() as session:
        try:
            person = get_person(session, person_id)
        except NotFound:
            raise HTTPException(404, "not_found") from None
        if person.erased_at is not None:
            raise HTTPException(404, "not_found")
        if not has_alternative_credential(session, person_id):
            return _refuse(request, context, person_id, "needs_other_credential")
        gallery, labels = others_gallery(
            session, deps.store.cipher, pipeline, person_id, deps.clock()
        )
    photos = await _collect_photos(request, context)
    if photos is None:
        return _refuse(request, context, person_id, "camera_unavailable")
    if not photos:
        return _refuse(request, context, person_id, "no_usable_photo")
    t = translator(request)
    results = [
        analyse_photo(pipeline, name, data, gallery, labels, deps.similarity_threshold, t)
        for name, data in photos[: deps.settings.max_photos_per_enrolment]
    ]
    if deps.settings.keep_photos:
        for result, (_name, data) in zip(results, photos, strict=False):
            result.photo = data if result.usable else None
    candidate = Candidate(user.account_id, person_id, time.time(), results)
    key = context.enrolments.put(candidate)
    page = {"person": person, "results": results, "key": key, "candidate": candidate}
    return render_review(request, page)


def render_review(request: Request, page: dict[str, object], status: int = 200) -> Response:
    return render(request, "enrol_review.html", page, status)


@router.post("/people/{person_id}/enrol/save", openapi_extra=STAFF, include_in_schema=False)
def enrol_save(
    request: Request,
    context: Context,
    user: CurrentUser,
    person_id: RowId,
    key: Annotated[str, Form(max_length=100)],
    confirm_duplicate: Annotated[bool, Form()] = False,
) -> Response:
    deps = context.deps
    pipeline = deps.pipeline
    if pipeline is None:
        return _refuse(request, context, person_id, "pipeline_missing")
    candidate = context.enrolments.peek(key, user.account_id)
    if candidate is None or candidate.person_id != person_id:
        return _refuse(request, context, person_id, "enrolment_expired")
    if candidate.has_duplicate and not confirm_duplicate:
        return _refuse(request, context, person_id, "duplicate_unconfirmed")
    usable = [p for p in candidate.photos if p.usable and p.embedding is not None]
    if not usable:
        context.enrolments.take(key, user.account_id, person_id)
        return _refuse(request, context, person_id, "no_usable_photo")
    consent_at = datetime.fromtimestamp(candidate.consent_at, UTC)
    try:
        with deps.store.sessions.writing() as session:
            record_consent(
                session,
                person_id,
                text_version=deps.settings.consent_text_version,
                taken_by=user.username,
                taken_at=consent_at,
            )
            saved = _store_templates(context, session, person_id, usable, pipeline.model_id)
            audit(session, request, user, "enrol_face", f"person:{person_id} templates:{saved}")
    except CredentialPolicyError:
        return _refuse(request, context, person_id, "needs_other_credential")
    except NotFound:
        raise HTTPException(404, "not_found") from None
    context.enrolments.take(key, user.account_id, person_id)
    deps.people_changed()
    return RedirectResponse(f"/people/{person_id}?msg=templates_saved", status_code=303)


def _store_templates(
    context: AppContext,
    session: Session,
    person_id: RowId,
    photos: list[PhotoResult],
    model_id: str,
) -> int:
    folder = context.deps.settings.photo_dir / str(person_id)
    for photo in photos:
        assert photo.embedding is not None
        template = store_face_template(
            session, context.deps.store.cipher, person_id, photo.embedding, model_id
        )
        if context.deps.settings.keep_photos and photo.photo is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{template.id}.jpg").write_bytes(photo.photo)
        photo.photo = None
    return len(photos)
