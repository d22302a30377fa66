"""Labels and messages shared by several features, in the member's language."""

from __future__ import annotations

from samvirke.storage.errors import DomainError
from samvirke.storage.models import DigestFrequency, Sector
from samvirke.templates.i18n import N_, Translator

SECTOR_LABELS: dict[str, str] = {
    Sector.CIVIL_SOCIETY: N_("Civil society"),
    Sector.PUBLIC: N_("Public sector (municipality or region)"),
    Sector.BUSINESS: N_("Business"),
    Sector.FOUNDATION: N_("Foundation"),
    Sector.ACADEMIA: N_("University or research"),
}

FREQUENCY_LABELS: dict[str, str] = {
    DigestFrequency.WEEKLY: N_("Weekly"),
    DigestFrequency.MONTHLY: N_("Monthly"),
    DigestFrequency.OFF: N_("Off"),
}

# Each language is named in itself, so a member can always find their own.
LANGUAGE_NAMES: dict[str, str] = {"da": "Dansk", "sv": "Svenska", "en": "English"}

ERROR_MESSAGES: dict[str, str] = {
    "name_empty": N_("Please type a name."),
    "name_too_long": N_("That name is too long: at most {max} characters, please."),
    "email_invalid": N_(
        "That does not look like an e-mail address. Please type it like name@example.org."
    ),
    "email_unchanged": N_("That is already your e-mail address."),
    "organisation_empty": N_("Please type the name of your organisation."),
    "organisation_too_long": N_("That is too long: at most {max} characters, please."),
    "sector_unknown": N_("Please choose one of the sectors."),
    "region_unknown": N_("Please choose one of the regions."),
    "region_name_invalid": N_("A region name needs 1 to {max} characters."),
    "region_exists": N_("That region exists already."),
    "language_unknown": N_("Please choose one of the languages."),
    "frequency_unknown": N_("Please choose one of the options."),
    "role_unknown": N_("Please choose one of the roles."),
    "organisers_only": N_("Sorry, that is for the network's organisers."),
    "admins_only": N_("Sorry, that is for administrators."),
    "member_not_found": N_("Please sign up first: send /start."),
    "nothing_pending": N_("There is no code waiting to be confirmed."),
    "resend_too_soon": N_(
        "We sent a code less than a minute ago. Please wait a moment and try again."
    ),
}


def error_text(t: Translator, error: DomainError) -> str:
    message = ERROR_MESSAGES.get(error.code, N_("Sorry, that did not work. Please try again."))
    return t(message, **error.params)


def sector_label(t: Translator, sector: str | None) -> str:
    return t(SECTOR_LABELS[sector]) if sector in SECTOR_LABELS else "–"


def frequency_label(t: Translator, frequency: str) -> str:
    return t(FREQUENCY_LABELS.get(frequency, frequency))
