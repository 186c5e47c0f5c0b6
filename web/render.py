"""Small helpers for pages and forms."""

from collections.abc import Callable
from typing import Annotated, Any

from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Response, Template

from mentoring.errors import FormError

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]

# Request bodies are read before a handler can check who is asking. Forms and JSON are small; only the routes
# that take a file allow an 8 MB photo or file plus the form around it.
FORM_BODY_BYTES = 1024 * 1024
UPLOAD_BODY_BYTES = 10 * 1024 * 1024


# Success messages after a form post: the redirect names one with ?done=<key>. Fixed texts only, so a crafted
# link cannot put words on the page; base.html shows it in a role="status" region.
NOTICES = {
    "person-added": "The person was added.",
    "link-sent": "The person was added and emailed a link to choose their password.",
    "invitation-emailed": "This email already has an account, so the person was invited and told by email. "
                          "They hold the role once they accept.",
    "triad-started": "The triad was started. Next: assign a task list to the mentee.",
    "assigned": "The task list was assigned.",
    "school-added": "The school program was added. Now invite its instructor.",
    "instructor-invited": "The instructor was added and emailed a link to choose a password (or, with an "
                          "account already, to sign in and accept; only then are they listed).",
    "password-set": "Your password is set and the invitation accepted. Sign in with your email and new password.",
    "people-imported": "The people in the file were added.",
}


def notice(key: str | None) -> str:
    return NOTICES.get(key or "", "")


def page(name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(template_name=name, context=context, status_code=status_code)


def form_error(name: str, error: FormError, form: dict[str, Any], **context: Any) -> Template:
    """Re-render a form with what the person typed and a message per field."""
    form = {k: v for k, v in form.items() if k not in {"password", "pin", "_csrf_token"}}
    return page(name, status_code=400, errors=error.errors, form=form, **context)


def see_other(path: str) -> Redirect:
    return Redirect(path, status_code=303)


def checkbox(form: dict[str, Any], name: str) -> bool:
    return form.get(name) in {"on", "true", "1", "yes"}


def submit(db: Any, action: Callable[[], Any], *, done: str | Callable[[Any], str | Response | Template],
           failed: Callable[[FormError], Response | Template]) -> Response | Template:
    """The one shape of a form post: run one domain call; if it refuses with field messages, undo its writes
    and re-render the form (400), otherwise commit and redirect (303) so a reload does not post again.

    `done` is the path to go to, or a function of what the call returned. That function may instead return
    the whole answer, for the few posts that are not a plain redirect: one that sets a cookie, an HTMX
    fragment, a page shown once. It runs after the commit. `failed` re-renders the form."""
    try:
        result = action()
    except FormError as e:
        db.rollback()
        return failed(e)
    db.commit()
    answer = done(result) if callable(done) else done
    return see_other(answer) if isinstance(answer, str) else answer


def refused_page(title: str, back: str, status_code: int = 400) -> Callable[[FormError], Template]:
    """`failed` for a post with no form to show again (a button): an error page with the messages and a way
    back."""
    return lambda e: page("error.html", status_code=status_code, status=status_code, title=title,
                          detail=" ".join(e.errors.values()), back=back)
