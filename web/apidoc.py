"""What the OpenAPI schema says about the JSON API beyond its handlers' types: how to authenticate,
and the shape of every error answer (web/errors.py writes them)."""

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import SecurityScheme
from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    status_code: int
    detail: str = Field(description="A sentence for a person.")
    errors: dict[str, str] | list | None = Field(default=None, description="Per field, when input was refused.")


_MEANING = {
    400: "The request could not be read.",
    401: "No valid API token or session.",
    403: "The token's person may not do this.",
    404: "No such object, or not visible to the caller.",
    409: "The change conflicts with what is already recorded.",
    413: "The request body is too large.",
    422: "The input was refused; `errors` names each field.",
    429: "Too many wrong attempts; wait and try again.",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    return {code: ResponseSpec(data_container=ErrorOut, description=_MEANING[code]) for code in codes}


BEARER = "apiToken"
SECURITY = [{BEARER: []}]
SECURITY_SCHEMES = {BEARER: SecurityScheme(
    type="http", scheme="bearer",
    description="A personal API token (mtk_…) issued by an organization's admin. Without one, the "
                "signed-in browser session is used.")}
