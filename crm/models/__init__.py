"""The records of DESIGN.md; importing this package registers every table."""

from crm.models.factory import STATUSES, Contact, Factory
from crm.models.followup import FollowUp
from crm.models.history import AuditEntry, Delivery, Notification, StageChange
from crm.models.stage import PROSPECT, STAGES, Metric, StageDefinition, TaskTemplate
from crm.models.system import Holiday, JobRun, SchedulerLease, Setting, WorkRequest
from crm.models.task import MetricSnapshot, Task
from crm.models.team import Belt, Leave, Team, team_managers
from crm.models.user import ROLES, Invitation, LoginAttempt, User, UserSession
from crm.models.visit import PURPOSES, Visit, VisitPhoto, visit_tasks

__all__ = [
    "PROSPECT",
    "PURPOSES",
    "ROLES",
    "STAGES",
    "STATUSES",
    "AuditEntry",
    "Belt",
    "Contact",
    "Delivery",
    "Factory",
    "FollowUp",
    "Holiday",
    "Invitation",
    "JobRun",
    "Leave",
    "LoginAttempt",
    "Metric",
    "MetricSnapshot",
    "Notification",
    "SchedulerLease",
    "Setting",
    "StageChange",
    "StageDefinition",
    "Task",
    "TaskTemplate",
    "Team",
    "User",
    "UserSession",
    "Visit",
    "VisitPhoto",
    "WorkRequest",
    "team_managers",
    "visit_tasks",
]
