"""The records of DESIGN.md; importing this package registers every table."""

from crm.models.api_token import ApiToken
from crm.models.client_action import ClientAction
from crm.models.closure import FactoryClosure
from crm.models.factory import STATUSES, Contact, Factory, FactoryMerge
from crm.models.followup import FollowUp
from crm.models.history import AuditEntry, Delivery, Notification, StageChange
from crm.models.imports import ImportRow, ImportRun
from crm.models.password_reset import PasswordReset
from crm.models.route_plan import RoutePlan
from crm.models.stage import PROSPECT, STAGES, Metric, StageDefinition, TaskTemplate
from crm.models.system import CacheVersion, Holiday, JobRun, KeptReport, SchedulerLease, Setting
from crm.models.task import MetricSnapshot, Task
from crm.models.team import Belt, Leave, Team, team_managers
from crm.models.two_factor import RecoveryCode, TwoFactor
from crm.models.user import ROLES, Invitation, LoginAttempt, User, UserSession
from crm.models.visit import (
    PURPOSES,
    Visit,
    VisitCorrection,
    VisitPhoto,
    VisitReview,
    VisitVoiceNote,
    visit_tasks,
)
from crm.models.webhooks import NotificationChannel, WebhookDelivery
from crm.models.work import WorkRequest

__all__ = [
    "PROSPECT",
    "PURPOSES",
    "ROLES",
    "STAGES",
    "STATUSES",
    "ApiToken",
    "AuditEntry",
    "Belt",
    "CacheVersion",
    "ClientAction",
    "Contact",
    "Delivery",
    "Factory",
    "FactoryClosure",
    "FactoryMerge",
    "FollowUp",
    "Holiday",
    "ImportRow",
    "ImportRun",
    "Invitation",
    "JobRun",
    "KeptReport",
    "Leave",
    "LoginAttempt",
    "Metric",
    "MetricSnapshot",
    "Notification",
    "NotificationChannel",
    "PasswordReset",
    "RecoveryCode",
    "RoutePlan",
    "SchedulerLease",
    "Setting",
    "StageChange",
    "StageDefinition",
    "Task",
    "TaskTemplate",
    "Team",
    "TwoFactor",
    "User",
    "UserSession",
    "Visit",
    "VisitCorrection",
    "VisitPhoto",
    "VisitReview",
    "VisitVoiceNote",
    "WebhookDelivery",
    "WorkRequest",
    "team_managers",
    "visit_tasks",
]
