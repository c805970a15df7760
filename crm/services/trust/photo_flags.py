"""Photos that do not prove a visit (issue 22, "Photos that prove a visit"): a visit's photo is
flagged when its bytes repeat an earlier photo of the install (the same SHA-256 of the upload;
one sent twice in the same visit is a double tap, not a reuse),
or when its picture nearly repeats a photo of another visit (perceptual hashes within
NEAR_BITS bits), as a photo kept from an earlier visit and sent again would.

A photo is flagged by its capture time too (read from its EXIF on the phone before it is
shrunk, or on the server from an original): taken more than EARLY before its visit's check-in,
or more than FUTURE after the server received it, or with no capture time at all.

The near match is looked for, never by reading every photo: among the photos sharing a quarter
of the hash (indexed; any two within 3 bits share one), and among the latest photos of the same
rep and of the same factory, where a reused photo most likely comes from.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from crm.extensions import db
from crm.models import Visit, VisitPhoto

# Bits two perceptual hashes may differ by and still be "nearly the same" picture: a re-saved,
# slightly cropped copy differs by a few; another photo of the same gate by far more.
NEAR_BITS = 10
# The latest photos of the same rep and of the same factory compared with a new one.
RECENT = 2_000


# A photo taken this long before its check-in is not of this visit; one "taken" this long after
# the server received it comes from a clock that is wrong.
EARLY = timedelta(minutes=10)
FUTURE = timedelta(minutes=5)
# What a capture time may say against its photo (VisitPhoto.time_flag), and every flag a photo
# may carry, in the order one is shown when a photo has several.
TIME_FLAGS = ("early", "future", "unknown")
KINDS = ("same", "near", *TIME_FLAGS)


def time_flag(
    taken_at: datetime | None, checked_in_at: datetime, received_at: datetime
) -> str | None:
    """What the capture time says against the photo; none when it was taken on the spot."""
    if taken_at is None:
        return "unknown"
    if taken_at < checked_in_at - EARLY:
        return "early"
    if taken_at > received_at + FUTURE:
        return "future"
    return None


def kinds(same_as_id: int | None, near_id: int | None, flag: str | None) -> list[str]:
    """Every flag a photo carries, in KINDS' order."""
    found = ["same"] if same_as_id is not None else []
    found += ["near"] if near_id is not None else []
    return found + ([flag] if flag else [])


def kind(same_as_id: int | None, near_id: int | None, flag: str | None) -> str | None:
    """The one flag a photo shows (the first of KINDS'), or none."""
    return next(iter(kinds(same_as_id, near_id, flag)), None)


def quarters(phash: str) -> tuple[int, int, int, int]:
    """The four 16-bit quarters of a 64-bit hash written in hex."""
    return tuple(int(phash[index : index + 4], 16) for index in range(0, 16, 4))  # type: ignore[return-value]


def distance(first: str, second: str) -> int:
    return (int(first, 16) ^ int(second, 16)).bit_count()


def keep_hash(photo: VisitPhoto, phash: str) -> None:
    if not phash:
        return
    photo.phash = phash
    photo.phash_0, photo.phash_1, photo.phash_2, photo.phash_3 = quarters(phash)


def flag(visit: Visit, photos: list[VisitPhoto]) -> None:
    """Mark each new photo of the visit that repeats an earlier one (flushed already)."""
    for photo in photos:
        photo.same_as_id = db.session.scalar(
            select(VisitPhoto.id)
            .where(
                VisitPhoto.sha256 == photo.sha256,
                VisitPhoto.visit_id != visit.id,
                VisitPhoto.id < photo.id,
            )
            .order_by(VisitPhoto.id)
            .limit(1)
        )
        if photo.phash:
            photo.near_id = _nearest(visit, photo)
        if photo.flagged:
            visit.photos_doubtful = True


def _nearest(visit: Visit, photo: VisitPhoto) -> int | None:
    other_visit = VisitPhoto.visit_id != visit.id
    sharing = (
        select(VisitPhoto.id, VisitPhoto.phash)
        .where(
            other_visit,
            or_(
                VisitPhoto.phash_0 == photo.phash_0,
                VisitPhoto.phash_1 == photo.phash_1,
                VisitPhoto.phash_2 == photo.phash_2,
                VisitPhoto.phash_3 == photo.phash_3,
            ),
        )
        .limit(RECENT)
    )
    candidates = dict(db.session.execute(sharing).all())
    for column, value in ((Visit.rep_id, visit.rep_id), (Visit.factory_id, visit.factory_id)):
        recent = (
            select(VisitPhoto.id, VisitPhoto.phash)
            .join(Visit, Visit.id == VisitPhoto.visit_id)
            .where(column == value, other_visit, VisitPhoto.phash.is_not(None))
            .order_by(VisitPhoto.id.desc())
            .limit(RECENT)
        )
        candidates.update(db.session.execute(recent).all())
    near = [
        (distance(photo.phash, phash), photo_id)
        for photo_id, phash in candidates.items()
        if phash and distance(photo.phash, phash) <= NEAR_BITS
    ]
    return min(near)[1] if near else None
