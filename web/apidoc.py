"""What the OpenAPI schema says about the JSON API beyond its handlers' types: how to authenticate,
and the shape of every error answer (web/errors.py writes them)."""

from typing import get_args

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema, SecurityScheme
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition
from pydantic import BaseModel, Field, RootModel


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
    503: "Busy with other photos; nothing was saved. Send it again after Retry-After seconds.",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    return {code: ResponseSpec(data_container=ErrorOut, description=_MEANING[code]) for code in codes}


BEARER = "apiToken"
SECURITY = [{BEARER: []}]
SECURITY_SCHEMES = {BEARER: SecurityScheme(
    type="http", scheme="bearer",
    description="A personal API token (mtk_…) issued by an organization's admin. Without one, the "
                "signed-in browser session is used.")}


class TaggedUnions(OpenAPISchemaPlugin):
    """A pydantic RootModel around a union told apart by a discriminator field, described as the JSON it reads:
    one of the union's models, each with its own constant in that field. (Litestar 2 reads a body into one model,
    not a union, but describes a RootModel as an object with a `root` property.) No OpenAPI `discriminator`: its
    mapping would have to name the components, which Litestar renames after this runs."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        annotation = field_definition.annotation
        return (isinstance(annotation, type) and issubclass(annotation, RootModel)
                and annotation.model_fields["root"].discriminator is not None)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator) -> Schema:
        root = field_definition.annotation.model_fields["root"]
        return Schema(one_of=[schema_creator.for_field_definition(FieldDefinition.from_annotation(model))
                              for model in get_args(root.annotation)],
                      description=f"`{root.discriminator}` says which of these the body is.")
