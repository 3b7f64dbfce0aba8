"""Creating sites, buildings, units and doors (normally from the station's sync)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.errors import NotFound
from gateway.store.schema_people import Building, Door, Site, Unit


def add_site(
    session: Session,
    *,
    code: str,
    name: str,
    province: str,
    city: str,
    district: str,
    street: str,
    community: str,
    timezone: str = "Asia/Shanghai",
) -> Site:
    site = Site(
        code=code,
        name=name,
        province=province,
        city=city,
        district=district,
        street=street,
        community=community,
        timezone=timezone,
    )
    session.add(site)
    session.flush()
    return site


def add_building(session: Session, site_id: int, number: str, name: str | None = None) -> Building:
    building = Building(site_id=site_id, number=number, name=name)
    session.add(building)
    session.flush()
    return building


def add_unit(session: Session, building_id: int, unit_number: str, room_number: str) -> Unit:
    unit = Unit(building_id=building_id, unit_number=unit_number, room_number=room_number)
    session.add(unit)
    session.flush()
    return unit


def add_door(session: Session, building_id: int, code: str, gateway_id: str, name: str) -> Door:
    door = Door(building_id=building_id, code=code, gateway_id=gateway_id, name=name)
    session.add(door)
    session.flush()
    return door


def door_site(session: Session, door_id: int) -> Site:
    """The site a door belongs to (for its time zone and visitor-code secret)."""
    site = session.scalars(
        select(Site)
        .join(Building, Building.site_id == Site.id)
        .join(Door, Door.building_id == Building.id)
        .where(Door.id == door_id)
    ).one_or_none()
    if site is None:
        raise NotFound(f"door {door_id} does not exist")
    return site
