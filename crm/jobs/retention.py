"""Every night: retention (crm.services.install.retention) applied in batches, as the system.

Positions coarsened, photos and voice notes deleted, failed sign-ins and old sessions deleted,
finished deliveries deleted, audit entries expired: each past its period in the admin's
settings. The runner commits after each batch that this yields; every batch writes one audit
entry that counts it, and the run's counts show on the admin's jobs page. A run finds only what
is past its period and not yet done, so a second run of the same night changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from crm.services.install import retention

NAME = "retention"
ACTOR = NAME  # the audit log's actor: this job, acting as the system
HOUR = 3  # before the daily sweep of 05:00, in the install's quietest hours


def run(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    yield from retention.apply(session, now, ACTOR)
