"""How the pages show an audit entry: kinds, actions and field names in the reader's language,
and the names of the users, belts, teams and factories behind the ids the entry keeps."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from crm.models import STATUSES, AuditEntry
from crm.services.install import audit_names
from crm.views.factory_words import factory_page_words
from crm.views.kept import words_once
from crm.views.templating import belt_name, role_name, stage_label, status_label

STAGE_FIELDS = frozenset({"stage", "to_stage", "from_stage"})
STATUS_FIELDS = frozenset({"to_status", "from_status"})


def _kinds() -> dict[str, str]:
    return {
        "factory": _("Factory"),
        "stage_change": _("Stage change"),
        "task": _("Task"),
        "visit": _("Visit"),
        "follow_up": _("Follow-up"),
        "contact": _("Contact"),
        "metric_snapshot": _("Figure"),
        "invitation": _("Invitation"),
        "user": _("User"),
        "team": _("Team"),
        "belt": _("Belt"),
        "setting": _("Setting"),
        "audit_entry": _("Audit log"),
        "import_run": _("Import"),
        "stage_definition": _("Stage"),
        "task_template": _("Checklist item"),
        "delivery": _("E-mail"),
        "webhook_delivery": _("Webhook delivery"),
        "notification_channel": _("Notification channel"),
        "api_token": _("API token"),
        "calendar": _("Working calendar"),
        "leave": _("Leave"),
        "install": _("Install"),
        "route_plan": _("Day's route"),
        "login_attempt": _("Failed sign-ins"),
        "user_session": _("Sign-in sessions"),
    }


def _actions() -> dict[str, str]:
    return {
        "create": _("created"),
        "update": _("changed"),
        "schedule": _("scheduled"),
        "reschedule": _("rescheduled"),
        "complete": _("completed"),
        "cancel": _("cancelled"),
        "reopen": _("reopened"),
        "hand_in": _("handed in"),
        "send_back": _("sent back"),
        "waive": _("waived"),
        "video": _("video planned"),
        "request": _("requested"),
        "decide": _("decided"),
        "direct": _("moved directly"),
        "override": _("moved by override"),
        "move": _("moved"),
        "claim": _("claimed"),
        "reassign": _("handed over"),
        "closure_add": _("closure added"),
        "closure_remove": _("closure removed"),
        "replace": _("replaced"),
        "change_setting": _("setting changed"),
        "erase_personal": _("personal data erased"),
        "erase": _("erased (personal data)"),
        "expire": _("expired"),
        "forget_start": _("start forgotten"),
        "give_location_consent": _("allowed location at check-in"),
        "withdraw_location_consent": _("withdrew location at check-in"),
        "coarsen_positions": _("positions coarsened"),
        "delete_media": _("photos and voice notes deleted"),
        "email_kinds": _("e-mail choices changed"),
        "send_again": _("sent again"),
        "test": _("tested"),
        "set_locale": _("language changed"),
        "issue_password_reset": _("reset link issued"),
        "reset_password": _("password reset"),
        "change_password": _("password changed"),
        "use_recovery_code": _("recovery code used"),
        "start_second_factor": _("second factor started"),
        "enrol_second_factor": _("second factor set up"),
        "renew_recovery_codes": _("recovery codes renewed"),
        "turn_off_second_factor": _("second factor turned off"),
        "reset_second_factor": _("second factor reset"),
        "deactivate": _("deactivated"),
        "reactivate": _("reactivated"),
        "retire": _("retired"),
        "revoke": _("revoked"),
        "seed": _("holidays filled in"),
        "add": _("added"),
        "remove": _("removed"),
        "seed_demo": _("demo data loaded"),
        "import_factories": _("factories imported"),
        "import_snapshots": _("figures imported"),
        "correct": _("corrected by its rep"),
        "accept_flag": _("flag accepted"),
        "dispute_flag": _("disputed"),
        "answer_dispute": _("dispute answered"),
        "close_dispute": _("dispute closed"),
    }


def _fields() -> dict[str, str]:
    return {
        "name": _("Name"),
        "email": _("E-mail"),
        "phone": _("Mobile number"),
        "locale": _("Language"),
        "role": _("Role"),
        "active": _("Active"),
        "owner_id": _("Owner"),
        "assignee_id": _("Assignee"),
        "user_id": _("User"),
        "rep_id": _("Rep"),
        "entered_by_id": _("Entered by"),
        "belt_id": _("Belt"),
        "team_id": _("Team"),
        "team_ids": _("Teams led"),
        "manager_ids": _("Managers"),
        "factory_id": _("Factory"),
        "stage": _("Stage"),
        "status": _("Status"),
        "to_stage": _("To stage"),
        "to_status": _("To status"),
        "decision": _("Decision"),
        "reason": _("Reason"),
        "origin": _("Origin"),
        "due_at": _("Due"),
        "due_on": _("Due"),
        "value": _("Value"),
        "title_en": _("Title"),
        "is_key_account": _("Key account"),
        "category": _("Category"),
        "address": _("Address"),
        "shop_url": _("Shop address"),
        "location": _("Location"),
        "credit_code": _("Credit code"),
        "wechat_id": _("WeChat ID"),
        "contact_name": _("Contact name"),
        "contact_phone": _("Contact phone"),
        "waive_reason": _("Reason for waiving"),
        "send_back_reason": _("Reason for sending back"),
        "evidence_link": _("Evidence link"),
        "evidence_number": _("Evidence number"),
        "evidence_note": _("Evidence note"),
        "evidence_file": _("Evidence file"),
        "video_url": _("Video link"),
        "shoot_on": _("Shooting day"),
        "completed_by_visit_id": _("Completed by visit"),
        "revoked_at": _("Revoked"),
        "purpose": _("Purpose"),
        "summary": _("Summary for the factory"),
        "notes": _("Internal notes"),
        "contact_id": _("Contact met"),
        "before": _("Older than"),
        "entries": _("Deleted"),
        "visits": _("Visits"),
        "photos_deleted": _("Photos deleted"),
        "voice_notes_deleted": _("Voice notes deleted"),
        # An erasure's counts (crm.services.privacy.erasure.Erasure).
        "account": _("Account"),
        "audit_entries": _("Audit entries"),
        "notifications": _("Notifications"),
        "deliveries": _("E-mails"),
        "free_texts": _("Notes, reasons and messages"),
        "sign_ins": _("Sign-in records"),
    }


def _values() -> dict[str, str]:
    return {
        "pending": _("Waiting"),
        "approved": _("Approved"),
        "refused": _("Refused"),
        "direct": _("Moved directly"),
        "open": _("Open"),
        "done": _("Done"),
        "cancelled": _("Cancelled"),
        "submitted": _("Handed in"),
        "waived": _("Waived"),
        # A visit's corrected text: the log names the change, the visit keeps the text.
        "earlier": _("as it was"),
        "corrected": _("corrected"),
        # A phone number, a note or a person's position: the log says it changed, not to what.
        "not_copied": _("(not kept in the log)"),
    }


class AuditWords:
    """What a template needs to show entries: built once per page from the entries' names."""

    def __init__(self, names: audit_names.Names) -> None:
        self.names = names

    @classmethod
    def for_entries(cls, entries: list[AuditEntry]) -> AuditWords:
        return cls(audit_names.names_of(entries))

    def kind(self, code: str) -> str:
        return words_once("audit_kinds", _kinds).get(code, code)

    def action(self, code: str) -> str:
        return words_once("audit_actions", _actions).get(code, code)

    def field(self, name: str) -> str:
        return words_once("audit_fields", _fields).get(name, name.replace("_", " "))

    def factory(self, factory_id: int | None) -> str:
        if factory_id is None:
            return ""
        return self.names.factories.get(factory_id) or _("factory #%(id)d", id=factory_id)

    def actor(self, entry: AuditEntry) -> str:
        if entry.actor_id is not None:
            return self.user(entry.actor_id)
        return entry.actor_job or _("a deleted user")

    def user(self, user_id: int) -> str:
        return self.names.users.get(user_id) or _("user #%(id)d", id=user_id)

    def record(self, entry: AuditEntry) -> str:
        """The record in words: a user's name, else the kind and its number."""
        if entry.record_type == "user" and entry.record_id is not None:
            return self.user(entry.record_id)
        if entry.record_type == "factory" and entry.record_id is not None:
            return self.factory(entry.record_id)
        if entry.record_id is None:
            return self.kind(entry.record_type)
        return f"{self.kind(entry.record_type)} #{entry.record_id}"

    def value(self, name: str, value: Any) -> str:
        """A before or after value as the reader knows it: names, labels, yes and no."""
        if value is None:
            return "—"
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        kind = audit_names.kind_of_field(name)
        if kind is not None:
            ids = audit_names.ids_in(value)
            if ids:
                return ", ".join(self._name(kind, number) for number in ids)
        if name in STAGE_FIELDS:
            return stage_label(str(value))
        if name in STATUS_FIELDS or (name == "status" and value in STATUSES):
            return status_label(str(value))
        if name == "role":
            return role_name(str(value))
        if name == "purpose":
            return factory_page_words().get(f"purpose_{value}", str(value))
        if isinstance(value, str):
            return words_once("audit_values", _values).get(value, value)
        return str(value)

    def _name(self, kind: str, number: int) -> str:
        if kind == "users":
            return self.user(number)
        if kind == "belts":
            belt = self.names.belts.get(number)
            return belt_name(belt) if belt is not None else _("belt #%(id)d", id=number)
        if kind == "teams":
            return self.names.teams.get(number) or _("team #%(id)d", id=number)
        return self.factory(number)
