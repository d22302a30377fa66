"""Labels and messages shared by several features, in the member's language."""

from __future__ import annotations

from storage.errors import DomainError
from storage.models import DigestFrequency, Sector
from templates.i18n import N_, PluralText, Translator, plural

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

SIGN_UP_FIRST = N_("Please sign up first: send /start.")
CHOOSE_A_BUTTON = N_("Please choose one of the buttons.")
STALE_BUTTON = N_("This button is no longer active.")

# Each language is named in itself, so a member can always find their own.
LANGUAGE_NAMES: dict[str, str] = {"da": "Dansk", "sv": "Svenska", "en": "English"}

ERROR_MESSAGES: dict[str, str | PluralText] = {
    # Channels and groups
    "chat_not_found": N_("That chat is no longer known: the bot may have been removed from it."),
    "purpose_unknown": N_("Please choose one of the options."),
    # The member directory, introductions and membership
    "directory_unverified": N_(
        "The member directory is for members who have confirmed their e-mail address. Please "
        "type the code we sent you, or send /profile to change the address."
    ),
    "directory_line_unknown": N_("Please choose one of the buttons."),
    "directory_line_too_long": plural(
        "That is too long: at most {max} character, please.",
        "That is too long: at most {max} characters, please.",
        "max",
    ),
    "too_many_topics": plural(
        "You can choose at most {max} topic. Remove one first.",
        "You can choose at most {max} topics. Remove one first.",
        "max",
    ),
    "topic_not_found": N_("That topic is no longer on the list."),
    "topic_exists": N_("That topic is on the list already."),
    "topic_names_invalid": plural(
        "Please type the topic like this: /topics add English name | Danish name | Swedish "
        "name (each at most {max} character).",
        "Please type the topic like this: /topics add English name | Danish name | Swedish "
        "name (each at most {max} characters).",
        "max",
    ),
    "person_not_listed": N_("That member is not in the directory (any more)."),
    "introduction_note_missing": N_(
        "Please write a short note: what do you hope for from the introduction?"
    ),
    "introduction_note_too_long": plural(
        "That note is too long: at most {max} character, please.",
        "That note is too long: at most {max} characters, please.",
        "max",
    ),
    "introduction_self": N_("That is your own card."),
    "introduction_same_member": N_("Please choose two different members."),
    "introduction_too_many_pending": plural(
        "You have {max} request waiting for an answer already. Please wait for an answer, or "
        "withdraw it, before you ask again.",
        "You have {max} requests waiting for an answer already. Please wait for an answer, or "
        "withdraw one, before you ask again.",
        "max",
    ),
    "introduction_too_many_this_week": plural(
        "You have asked for {max} introduction in the last seven days. Please wait a few "
        "days before you ask again.",
        "You have asked for {max} introductions in the last seven days. Please wait a few "
        "days before you ask again.",
        "max",
    ),
    "introduction_asked_recently": plural(
        "You asked this member less than {days} day ago. Please give them time.",
        "You asked this member less than {days} days ago. Please give them time.",
        "days",
    ),
    "introduction_not_found": N_("That request for an introduction does not exist."),
    "not_your_introduction": N_("That request for an introduction is not yours to answer."),
    "introduction_withdrawn": N_("That request for an introduction was withdrawn."),
    "introduction_expired": N_("That request for an introduction has expired."),
    "introduction_already_answered": N_(
        "That request for an introduction has already been answered."
    ),
    "introduction_counterpart_gone": N_("The other member has left the network."),
    "introduction_action_unknown": N_("Please choose one of the buttons."),
    "invitation_unknown": N_(
        "That invitation link is not valid. Please ask the person who invited you for a new one."
    ),
    "invitation_used_up": N_(
        "That invitation link has been used up. Please ask the person who invited you for a "
        "new one."
    ),
    "invitation_expired": N_(
        "That invitation link has expired. Please ask the person who invited you for a new one."
    ),
    "invitation_revoked": N_(
        "That invitation link was withdrawn. Please ask the person who invited you for a new one."
    ),
    "invitation_invalid": plural(
        "An invitation is for 1 to {uses} people and valid for at most {days} day.",
        "An invitation is for 1 to {uses} people and valid for 1 to {days} days.",
        "days",
    ),
    "not_your_invitation": N_("That invitation was made by someone else."),
    "admission_unknown": N_("I cannot find that sign-up."),
    "event_not_started": N_("The participant list opens when the event starts."),
    "not_a_participant": N_("The participant list is for those who took part in the event."),
    "admission_other_region": N_("Sorry, that member is in another region than yours."),
    # Timebank
    "hours_invalid": N_("Please type the hours as a number, e.g. 1.5 or 1:45."),
    "hours_not_positive": N_("The hours must be more than zero."),
    "hours_not_quarter": N_("Please use quarter hours: e.g. 0.25, 0.5, 0.75 or 1."),
    "hours_too_many": plural(
        "At most {max} hour per exchange, please.",
        "At most {max} hours per exchange, please.",
        "max",
    ),
    "self_exchange": N_("You cannot exchange hours with yourself (or your own organisation)."),
    "nobody_to_confirm": N_("Nobody can confirm for that account yet. Please choose another."),
    "direction_unknown": CHOOSE_A_BUTTON,
    "description_empty": N_("Please write a few words."),
    "reason_missing": N_("Please give a reason: it is kept with the correction."),
    "reason_too_long": plural(
        "That reason is too long: at most {max} character, please.",
        "That reason is too long: at most {max} characters, please.",
        "max",
    ),
    "exchange_not_found": N_("That exchange does not exist."),
    "exchange_declined": N_("That exchange was declined; no hours were moved."),
    "exchange_expired": N_("That exchange was not confirmed in time and has expired."),
    "exchange_cancelled": N_("That exchange was withdrawn; no hours were moved."),
    "exchange_confirmed": N_("That exchange has already been confirmed."),
    "not_your_confirmation": N_("Only the other side of this exchange can confirm or decline it."),
    "not_your_exchange": N_("Only the member who logged this exchange can withdraw it."),
    "not_coordinator": N_("You do not coordinate that organisation account."),
    "counterpart_not_found": N_("That member or account is no longer in the timebank."),
    "not_a_contact": N_("Please choose from the list, or type their @username."),
    "username_unknown": N_(
        "No member has the username {username}. Ask them for their Telegram username, or "
        "choose from the list."
    ),
    "account_not_found": N_("That timebank account does not exist."),
    "not_your_account": N_("That is not your account."),
    "entry_not_found": N_("That entry does not exist."),
    "already_reversed": N_("That entry has already been reversed."),
    "cannot_reverse_reversal": N_("A reversal cannot be reversed; make an adjustment instead."),
    "organisation_name_invalid": plural(
        "An organisation name needs 1 to {max} character.",
        "An organisation name needs 1 to {max} characters.",
        "max",
    ),
    "organisation_exists": N_("An organisation account with that name exists already."),
    "category_name_invalid": plural(
        "A category name needs 1 to {max} character.",
        "A category name needs 1 to {max} characters.",
        "max",
    ),
    "category_exists": N_("That category exists already."),
    "category_unknown": N_("Please choose one of the categories."),
    "listing_not_found": N_("That offer or request is no longer available."),
    "not_your_listing": N_("That is not your listing."),
    "listing_kind_unknown": N_("Please choose offer or request."),
    "listing_status_unknown": CHOOSE_A_BUTTON,
    "own_listing": N_("That is your own listing."),
    "contact_not_found": N_("That contact request does not exist."),
    "not_your_contact": N_("Only the member who posted the listing can answer."),
    "contact_already_answered": N_("You have already answered this contact request."),
    "balance_below_minimum": N_("Refused: a balance would fall below its minimum."),
    "balance_above_maximum": N_("Refused: a balance would rise above its maximum."),
    "admin_command_unknown": N_("Send /timebank help to see the administration commands."),
    "name_empty": N_("Please type a name."),
    "name_too_long": plural(
        "That name is too long: at most {max} character, please.",
        "That name is too long: at most {max} characters, please.",
        "max",
    ),
    "email_invalid": N_(
        "That does not look like an e-mail address. Please type it like name@example.org."
    ),
    "email_not_ascii": N_(
        "Sorry, our mail cannot reach an address with letters such as æ, ø or å before the @. "
        "Please type another address (only a–z, 0–9 and . _ - before the @)."
    ),
    "email_unchanged": N_("That is already your e-mail address."),
    "organisation_empty": N_("Please type the name of your organisation."),
    "organisation_too_long": plural(
        "That is too long: at most {max} character, please.",
        "That is too long: at most {max} characters, please.",
        "max",
    ),
    "sector_unknown": N_("Please choose one of the sectors."),
    "region_unknown": N_("Please choose one of the regions."),
    "region_name_invalid": plural(
        "A region name needs 1 to {max} character.",
        "A region name needs 1 to {max} characters.",
        "max",
    ),
    "region_exists": N_("That region exists already."),
    "language_unknown": N_("Please choose one of the languages."),
    "frequency_unknown": N_("Please choose one of the options."),
    "role_unknown": N_("Please choose one of the roles."),
    "organisers_only": N_("Sorry, that is for the network's organisers."),
    "admins_only": N_("Sorry, that is for administrators."),
    "organiser_region_gone": N_(
        "Your region as an organiser has been removed. Please ask an administrator to give you "
        "a region again."
    ),
    "member_not_found": SIGN_UP_FIRST,
    "nothing_pending": N_("There is no code waiting to be confirmed."),
    "resend_too_soon": N_(
        "We sent a code less than a minute ago. Please wait a moment and try again."
    ),
    "code_mails_throttled": plural(
        "We have sent too many codes to you or to this address lately. Please try again in "
        "{minutes} minute.",
        "We have sent too many codes to you or to this address lately. Please try again in "
        "{minutes} minutes.",
        "minutes",
    ),
    # Events
    "title_empty": N_("Please type a title."),
    "title_too_long": plural(
        "That title is too long: at most {max} character, please.",
        "That title is too long: at most {max} characters, please.",
        "max",
    ),
    "description_too_long": plural(
        "That description is too long: at most {max} character, please.",
        "That description is too long: at most {max} characters, please.",
        "max",
    ),
    "message_too_long": plural(
        "That message is too long: at most {max} character, please.",
        "That message is too long: at most {max} characters, please.",
        "max",
    ),
    "url_invalid": N_("That link does not work. Please type it like https://meet.example.org/abc."),
    "location_too_long": plural(
        "That address is too long: at most {max} character, please.",
        "That address is too long: at most {max} characters, please.",
        "max",
    ),
    "place_empty": N_("Please type an address or an online link."),
    "capacity_invalid": N_("Please type a number of seats from 1 to {max}, or press No limit."),
    "capacity_below_going": plural(
        "{going} member is already going: the number of seats cannot be lower than that.",
        "{going} members are already going: the number of seats cannot be lower than that.",
        "going",
    ),
    # Both are said with the question again, and its examples, in the same message.
    "when_unreadable": N_("I could not read that date. Please type it as shown below."),
    "date_invalid": N_("That date does not exist. Please check the day and the month."),
    "time_missing": N_("Please add the time, as shown below."),
    "time_invalid": N_("Please type the time like 13:00 or 13-17."),
    "when_in_past": N_("That time has passed. Please choose a time in the future."),
    "end_before_start": N_("The end must be after the start."),
    "when_too_far": N_(
        "That is too far ahead: events can be planned at most five years ahead. Please check "
        "the year."
    ),
    "period_invalid": N_(
        "Please choose a period between {first} and {last}, e.g. /stats 1.1.2026 30.6.2026."
    ),
    "period_reversed": N_(
        "The last day comes before the first. Please type the first day of the period, then "
        "the last, e.g. /stats 1.1.2026 30.6.2026."
    ),
    "period_unreadable": N_(
        "I could not read those dates. Please type the first and the last day of the period, "
        "e.g. /stats 1.1.2026 30.6.2026."
    ),
    "deadline_in_past": N_("That deadline has passed. Please choose a later one."),
    "deadline_after_start": N_("The RSVP deadline must be before the event starts."),
    "event_other_region": N_("Sorry, you organise events for another region."),
    "event_not_found": N_("Sorry, I cannot find that event."),
    "event_cancelled": N_("Sorry, that event has been cancelled."),
    "event_started": N_("That event has already begun, so answers are closed."),
    "event_over": N_("That event is over."),
    "rsvp_closed": N_("The deadline for answering has passed, so answers are closed."),
    "attendee_unknown": N_("I cannot find that member for this event."),
    "checkin_code_unknown": N_("I do not know that check-in code. Please check it and try again."),
    "checkin_too_early": N_("Check-in opens two hours before the event starts."),
    "checkin_closed": N_("Check-in for that event has closed."),
    "walk_in_query_short": plural(
        "Please type at least {min} letter of the name, or the member's @username.",
        "Please type at least {min} letters of the name, or the member's @username.",
        "min",
    ),
    "followup_before_start": N_("The follow-up can go once the event has started."),
    "comment_empty": N_("Please type a comment, or press Skip."),
    "programme_line_unreadable": N_(
        "I could not read line {line}. Please type each item like 13:00 Welcome – Karen "
        "Jensen, Teknologisk Institut."
    ),
    "programme_empty": N_("Please type at least one item, or - to remove the programme."),
    "programme_too_long": plural(
        "That is too long: at most {max} item, please.",
        "That is too long: at most {max} items, please.",
        "max",
    ),
    "material_link_missing": N_("Please send a document, or a link with a title."),
    "material_title_empty": N_("Please give the material a title."),
    "material_not_found": N_("That material is no longer available."),
    "material_kind_unknown": N_("Please send a document, or a link with a title."),
    "materials_too_many": plural(
        "An event can have at most {max} material.",
        "An event can have at most {max} materials.",
        "max",
    ),
    "materials_not_for_you": N_("The materials are for members going to the event or who came."),
    "comment_too_long": plural(
        "That comment is too long: at most {max} character, please.",
        "That comment is too long: at most {max} characters, please.",
        "max",
    ),
    # Broadcasts
    "broadcast_empty": N_("Please write something: the message is empty."),
    "broadcast_too_long": plural(
        "That message is too long: at most {max} character, please.",
        "That message is too long: at most {max} characters, please.",
        "max",
    ),
    "broadcast_markup": N_(
        "Telegram cannot show that formatting. Please use only bold, italic, underline, "
        "strikethrough, spoilers, code and links."
    ),
    "broadcast_media": N_("Please send a photo or a document (a file)."),
    "broadcast_no_recipients": N_(
        "No member in this audience can get the message. Please choose another audience."
    ),
    "broadcast_other_region": N_("Sorry, you can only send broadcasts to your own region."),
    "audience_unknown": N_("Please choose one of the audiences."),
    "broadcast_draft": N_(
        "That draft is no longer available. Please send /broadcast to start again."
    ),
    "broadcast_unknown": N_("That broadcast does not exist."),
    # Answers that only a stale or forged button can give
    "answer_unknown": CHOOSE_A_BUTTON,
    "field_unknown": STALE_BUTTON,
    "period_unknown": STALE_BUTTON,
}


def error_text(t: Translator, error: DomainError) -> str:
    message = ERROR_MESSAGES.get(error.code, N_("Sorry, that did not work. Please try again."))
    return t.text(message, **error.params)


def sector_label(t: Translator, sector: str | None) -> str:
    return t(SECTOR_LABELS[sector]) if sector in SECTOR_LABELS else "–"


def frequency_label(t: Translator, frequency: str) -> str:
    return t(FREQUENCY_LABELS.get(frequency, frequency))
