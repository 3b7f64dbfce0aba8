"""People CSV export and import. Import is all or nothing: every line is validated first,
then all are written in one transaction; any problem is reported by line and nothing is stored.
A line the csv module cannot read (a field over its 128 KiB limit, a NUL byte) is such a problem
too: reported with its line number, never a server error."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.store.schema_people import Person
from provisioning.csv_export import to_csv
from provisioning.people_service import (
    PersonInput,
    create_person,
    list_people,
    local_text,
    update_person,
)
from provisioning.web import Access, AppContext, Context, CurrentUser, access, audit, render

router = APIRouter()
STAFF = access(Access.STAFF)
COLUMNS = [
    "external_id",
    "display_name",
    "role",
    "building",
    "unit_number",
    "room_number",
    "valid_from",
    "valid_until",
    "active",
]
MAX_LINES = 5000


def export_people(context: AppContext) -> str:
    timezone = context.deps.gateway_config.site.timezone
    with context.deps.store.sessions.reading() as session:
        rows = [r for r in list_people(session, limit=100_000) if r.person.erased_at is None]
    return to_csv(
        COLUMNS,
        (
            [
                r.person.external_id,
                r.person.display_name or "",
                r.person.role.value,
                r.building,
                r.unit.unit_number if r.unit else "",
                r.unit.room_number if r.unit else "",
                local_text(r.person.valid_from, timezone),
                local_text(r.person.valid_until, timezone),
                "yes" if r.person.active else "no",
            ]
            for r in rows
        ),
    )


def _lines(reader: csv.DictReader[str], errors: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, values) per record; stops at one the csv module cannot read, reporting it."""
    number = 1
    try:
        for number, line in enumerate(reader, start=2):
            yield number, line
    except csv.Error as error:
        errors.append(f"line {number + 1}: cannot be read ({error})")


def parse_people(text: str) -> tuple[list[PersonInput], list[str]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames
    except csv.Error as error:
        return [], [f"line 1: cannot be read ({error})"]
    if header is None or "external_id" not in header:
        return [], ["line 1: the header must name the columns: " + ",".join(COLUMNS)]
    people: list[PersonInput] = []
    errors: list[str] = []
    for number, line in _lines(reader, errors):
        if number > MAX_LINES + 1:
            errors.append(f"more than {MAX_LINES} lines")
            break
        values = {k: (v or "").strip().lstrip("'") for k, v in line.items() if k in COLUMNS}
        values["active"] = str(values.get("active", "yes")).lower() in ("yes", "true", "1", "")
        try:
            people.append(PersonInput.model_validate(values))
        except ValidationError as error:
            problems = "; ".join(item["msg"] for item in error.errors())
            errors.append(f"line {number}: {problems}")
    ids = [p.external_id for p in people]
    if len(ids) != len(set(ids)):
        errors.append("the same external_id appears twice")
    return people, errors


@router.get("/people.csv", openapi_extra=STAFF, include_in_schema=False)
def people_export(request: Request, context: Context, user: CurrentUser) -> Response:
    body = export_people(context)
    with context.deps.store.sessions.writing() as session:
        audit(session, request, user, "export_people", "people.csv")
    headers = {"Content-Disposition": 'attachment; filename="people.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/people-import", openapi_extra=STAFF, include_in_schema=False)
async def people_import(
    request: Request, context: Context, user: CurrentUser, file: UploadFile
) -> Response:
    raw = await file.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _result(request, context, 0, ["the file is not UTF-8 text"])
    people, errors = parse_people(text)
    if errors:
        return _result(request, context, 0, errors)
    timezone = context.deps.gateway_config.site.timezone
    try:
        with context.deps.store.sessions.writing() as session:
            for data in people:
                existing = session.scalars(
                    select(Person).where(Person.external_id == data.external_id)
                ).one_or_none()
                if existing is None:
                    create_person(session, context.door_id, data, timezone)
                elif existing.erased_at is None:
                    version = existing.updated_at.isoformat()
                    update_person(session, context.door_id, existing.id, data, version, timezone)
            audit(session, request, user, "import_people", f"{len(people)} lines")
    except (IntegrityError, ValueError) as error:
        return _result(request, context, 0, [str(error).splitlines()[0][:200]])
    context.deps.people_changed()
    return _result(request, context, len(people), [])


def _result(request: Request, context: AppContext, count: int, errors: list[str]) -> Response:
    with context.deps.store.sessions.reading() as session:
        rows = list_people(session)
    page = {"rows": rows, "q": "", "msg": "", "imported": count, "import_errors": errors}
    return render(request, "people.html", page, 400 if errors else 200)
