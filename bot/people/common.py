"""What the /people screens share: the acting member, ids from callback data, error texts."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from bot.ui.chat import send
from bot.ui.texts import ERROR_MESSAGES
from storage.errors import DomainError
from storage.members.profiles import MemberView
from templates.i18n import N_, Translator

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
# The one typed answer of the people conversation (bot.people.introductions.conversation), and
# what it is for: "line:<name>", "ask:<member>", "intro:<first>:<second>", "decline:<member>".
TYPING = "people_typing"
TASK = "people_task"

PEOPLE_ERRORS: dict[str, str] = {
    "directory_unverified": N_(
        "The member directory is for members who have confirmed their e-mail address. Please "
        "type the code we sent you, or send /profile to change the address."
    ),
    "directory_line_unknown": N_("Please choose one of the buttons."),
    "directory_line_too_long": N_("That is too long: at most {max} characters, please."),
    "too_many_topics": N_("You can choose at most {max} topics. Remove one first."),
    "topic_not_found": N_("That topic is no longer on the list."),
    "topic_exists": N_("That topic is on the list already."),
    "topic_names_invalid": N_(
        "Please type the topic like this: /topics add English name | Danish name | Swedish "
        "name (each at most {max} characters)."
    ),
    "person_not_listed": N_("That member is not in the directory (any more)."),
    "introduction_note_missing": N_(
        "Please write a short note: what do you hope for from the introduction?"
    ),
    "introduction_note_too_long": N_("That note is too long: at most {max} characters, please."),
    "introduction_self": N_("That is your own card."),
    "introduction_same_member": N_("Please choose two different members."),
    "introduction_too_many_pending": N_(
        "You have {max} requests waiting for an answer already. Please wait for an answer, or "
        "withdraw one, before you ask again."
    ),
    "introduction_too_many_this_week": N_(
        "You have asked for {max} introductions in the last seven days. Please wait a few "
        "days before you ask again."
    ),
    "introduction_asked_recently": N_(
        "You asked this member less than {days} days ago. Please give them time."
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
    "invitation_invalid": N_(
        "An invitation is for 1 to {uses} people and valid for 1 to {days} days."
    ),
    "not_your_invitation": N_("That invitation was made by someone else."),
    "admission_unknown": N_("I cannot find that sign-up."),
    "event_not_started": N_("The participant list opens when the event starts."),
    "not_a_participant": N_("The participant list is for those who took part in the event."),
    "admission_other_region": N_("Sorry, that member is in another region than yours."),
}


def error_message(t: Translator, error: DomainError) -> str:
    message = PEOPLE_ERRORS.get(error.code) or ERROR_MESSAGES.get(error.code)
    return t(message or N_("Sorry, that did not work. Please try again."), **error.params)


async def tell_error(update: Update, context: Context, error: DomainError) -> None:
    await send(update, error_message(context.t, error))


def parse_id(text: str) -> int | None:
    """An id from callback data or a command (None when it cannot be one)."""
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def member_of(context: Context) -> MemberView | None:
    return context.member
