"""Make sure the store knows the door this gateway serves (from the config's [site] table).

On first start the site, building and door rows are created; later starts find them. A door that
exists but belongs to another gateway is refused: two gateways must never drive one door.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.model import SiteConfig
from gateway.store.places import add_building, add_door, add_site
from gateway.store.schema_people import Building, Door, Site


class DoorOwnershipError(RuntimeError):
    """The configured door is registered to another gateway."""


def ensure_door(session: Session, site: SiteConfig) -> int:
    """The id of the configured door, creating site/building/door rows when missing."""
    door = session.scalars(select(Door).where(Door.code == site.door_code)).one_or_none()
    if door is not None:
        if door.gateway_id != site.gateway_id:
            raise DoorOwnershipError(
                f"door {site.door_code!r} belongs to gateway {door.gateway_id!r}, not "
                f"{site.gateway_id!r}: fix [site] gateway_id or door_code"
            )
        return door.id
    row = session.scalars(select(Site).where(Site.code == site.id)).one_or_none()
    if row is None:
        address = site.address
        row = add_site(
            session,
            code=site.id,
            name=site.name,
            province=address.province,
            city=address.city,
            district=address.district,
            street=address.street,
            community=address.community,
            timezone=site.timezone,
        )
    building = session.scalars(
        select(Building).where(Building.site_id == row.id, Building.number == site.building)
    ).one_or_none()
    if building is None:
        building = add_building(session, row.id, site.building)
    return add_door(
        session,
        building.id,
        site.door_code,
        site.gateway_id,
        f"{site.name} {site.building} {site.door_code}",
    ).id
