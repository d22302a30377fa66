"""The report's content as labelled rows, shared by the PDF, the CSV and the xlsx file, so that
all three say the same."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from storage.models import IntroductionStatus
from storage.people.stats import SECTORS
from storage.reports.figures import CROSS_SECTOR_MIN_SECTORS, FunderFigures
from templates.i18n import Translator
from templates.report import labels


@dataclass(frozen=True)
class Figure:
    label: str
    value: str  # formatted for people
    raw: float | int | None  # for spreadsheets


@dataclass(frozen=True)
class Table:
    title: str
    header: list[str]
    rows: list[list[str | int | float | None]]


def key_figures(t: Translator, f: FunderFigures) -> list[Figure]:
    lang = t.language
    rows = [
        Figure(t("Meetings held"), labels.number(f.meetings_held, lang), f.meetings_held),
        Figure(t("Registrations (going)"), labels.number(f.registrations, lang), f.registrations),
        Figure(
            t("Unique participants"),
            labels.number(f.unique_participants, lang),
            f.unique_participants,
        ),
        Figure(
            t("Participations (checked in)"),
            labels.number(f.participations, lang),
            f.participations,
        ),
        Figure(
            t("Attendance rate"),
            labels.percent(f.attendance_rate, lang),
            None if f.attendance_rate is None else round(f.attendance_rate, 4),
        ),
        Figure(t("New members"), labels.number(f.new_members, lang), f.new_members),
        Figure(
            t("Cross-sector share of participations"),
            labels.percent(f.cross_sector_share, lang),
            None if f.cross_sector_share is None else round(f.cross_sector_share, 4),
        ),
        Figure(
            t("Timebank hours given"),
            labels.hours(f.timebank_minutes, lang),
            round(f.timebank_minutes / 60, 2),
        ),
        Figure(
            t("Connections made (accepted introductions)"),
            labels.number(connections_made(f), lang),
            connections_made(f),
        ),
        Figure(
            t("Cross-sector share of connections"),
            labels.percent(f.connections.cross_sector_share, lang),
            None
            if f.connections.cross_sector_share is None
            else round(f.connections.cross_sector_share, 4),
        ),
    ]
    if f.feedback_count:
        assert f.feedback_average is not None
        rows.append(
            Figure(
                t("Average feedback (1–5)"),
                t.plural(
                    "{average} ({n} answer)",
                    "{average} ({n} answers)",
                    f.feedback_count,
                    average=labels.number(f.feedback_average, lang, 1),
                ),
                round(f.feedback_average, 2),
            )
        )
    return rows


def connections_made(f: FunderFigures) -> int:
    return f.connections.by_status.get(IntroductionStatus.ACCEPTED, 0)


def connection_matrix(t: Translator, f: FunderFigures) -> Table:
    """Accepted introductions by the sector of the member who asked (rows) and of the member
    asked (columns), as in /stats → Connections."""
    matrix = f.connections.matrix
    return Table(
        t("Connections by sector"),
        [t("Sector of the member who asked"), *(labels.sector(t, s) for s in SECTORS)],
        [[labels.sector(t, a), *(matrix.get((a, b), 0) for b in SECTORS)] for a in SECTORS],
    )


def tables(t: Translator, f: FunderFigures) -> list[Table]:
    tz = ZoneInfo(f.timezone)
    lang = t.language
    participations = t("Participations")
    return [
        Table(
            t("Participations by sector"),
            [t("Sector"), participations],
            [[labels.sector(t, s), n] for s, n in f.by_sector.items()],
        ),
        Table(
            t("Participations by region"),
            [t("Region"), participations],
            [[labels.region(t, r), n] for r, n in f.by_region.items()],
        ),
        Table(
            t("Participations per month"),
            [t("Month"), participations],
            [[m, n] for m, n in f.by_month],
        ),
        connection_matrix(t, f),
        Table(
            t("Meetings"),
            [t("Date"), t("Meeting"), t("Place"), t("Registered"), t("Attended"), t("Feedback")],
            [
                [
                    labels.day(m.starts_at, tz, lang, "short"),
                    m.title,
                    place(t, m.place, m.online),
                    m.registered,
                    m.attended,
                    None if m.feedback_average is None else round(m.feedback_average, 1),
                ]
                for m in f.meetings
            ],
        ),
    ]


def place(t: Translator, location: str | None, online: bool) -> str:
    if location and online:
        return t("{place} and online", place=location)
    if location:
        return location
    return t("Online") if online else "–"


def method_note(t: Translator) -> list[str]:
    return [
        t(
            "A meeting counts when it was published, not cancelled and started within the "
            "period. Registrations are the members whose answer was “going” (the waiting list "
            "does not count)."
        ),
        t(
            "A participant is a member who was checked in at a meeting (by scanning the "
            "meeting's code or by an organiser). Participations count every check-in; unique "
            "participants count each person once. The attendance rate is participations "
            "divided by registrations."
        ),
        t(
            "Sector and region are those the participant gave in their profile. A meeting is "
            "cross-sector when its participants came from at least {n} of the five sectors; "
            "the cross-sector share is the share of participations at such meetings.",
            n=CROSS_SECTOR_MIN_SECTORS,
        ),
        t(
            "A connection is an introduction between two members that was accepted; it counts "
            "in the period in which it was asked for and in the region of the member who asked. "
            "The cross-sector share of connections is the share of those whose two members are "
            "in different sectors (the sectors they had when the introduction was made)."
        ),
        t(
            "New members are members who signed up in the period (in the region, when a region "
            "is chosen) and have not erased their data. Timebank hours given are confirmed "
            "exchanges that were not reversed, counted in the region of the member who helped."
        ),
        t(
            "Members who erased their data are still counted in the figures, without any "
            "personal data."
        ),
    ]
