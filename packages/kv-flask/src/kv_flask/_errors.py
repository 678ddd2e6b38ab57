"""The error bodies of the HTTP API.

Every error response is JSON of the form ``{"error": CODE, "message": TEXT}``: *CODE* is a
stable machine-readable word, *TEXT* a generic sentence chosen here. Neither ever holds a
traceback, a path, SQL, a key or an exception's own text.
"""

from __future__ import annotations

# Defined with the rest of the family in kv_core.errors (a ConflictError); named here too.
from kv_core.errors import PreconditionFailed as PreconditionFailed

__all__ = ["ERRORS", "ApiError", "PreconditionFailed", "error_code", "error_message"]


#: HTTP status -> (code, message) of the JSON error body.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed or the key is not valid."),
    401: ("unauthorized", "A valid bearer token is required."),
    403: ("forbidden", "This operation is not allowed."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed on this route."),
    409: ("key_conflict", "The key conflicts with an existing key."),
    411: ("length_required", "The request body needs a length."),
    412: ("precondition_failed", "The stored value does not match the request's condition."),
    413: ("too_large", "The request body is larger than the server accepts."),
    415: ("unsupported_media_type", "Form content types are not accepted; send raw bytes."),
    429: ("too_many_requests", "Too many requests."),
    500: ("internal_error", "The server failed to handle the request."),
    503: ("unavailable", "The store behind the server is unavailable."),
    507: ("out_of_space", "The store behind the server is out of space."),
}


def error_code(status: int) -> str:
    """The machine-readable code for *status*."""
    return ERRORS.get(status, ("error", ""))[0]


def error_message(status: int) -> str:
    """The generic message for *status*."""
    return ERRORS.get(status, ("", "The request failed."))[1] or "The request failed."


class ApiError(Exception):
    """Raised inside the server to answer with *status*, a *code* and a generic message.

    :param status: The HTTP status.
    :param code: Overrides the default code of *status* (e.g. ``invalid_key`` for a 400).
    :param message: Overrides the default generic message; must never hold user data.
    """

    def __init__(self, status: int, code: str | None = None, message: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.code = code or error_code(status)
        self.message = message or error_message(status)
