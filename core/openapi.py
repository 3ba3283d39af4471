"""The OpenAPI schema tells every status an operation can answer, not only its happy path.

Some errors come from the framework around every view rather than from the
view's own code: a bad token (401), a permission class (403), a path naming
no object (404), a body over the limit (413), a body or query that does not
validate (400), throttling (429). Each view documents its own rules with
@extend_schema; this schema class adds these cross-cutting ones wherever the
view did not already, derived from the view's authenticators, permissions and
throttles, so a new endpoint is described truthfully without extra work (the
schemathesis run in tests/fuzz checks the result against the live server).
"""

import copy
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly

# Permission classes that can only answer 401 (never 403) for a request they refuse.
_NO_FORBIDDEN = (AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly)
_BODY_METHODS = ("POST", "PUT", "PATCH")
RETRY_AFTER = {
    "schema": {"type": "integer", "minimum": 1},
    "description": "Seconds to wait before trying again.",
    "required": True,
}


class ErrorSerializer(serializers.Serializer):
    """The API's error body: a stable `code`, a human `detail`, and per-field `errors`."""

    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The strings `field` reads as a number, as an ECMA-262 pattern.

    drf-spectacular's own pattern allows a sign and an empty string whatever
    the field's bounds; this one has at least one digit, a sign only when
    `min_value` allows negative numbers, and no all-zero value when
    `min_value` is the smallest positive step (a price of at least 0.01).
    Leading zeros beyond `max_whole_digits`, which the field also reads,
    are left out: a client never needs them.
    """
    whole, places = field.max_whole_digits, field.decimal_places
    low = field.min_value
    sign = "-?" if low is None or low < 0 else ""
    positive = low is not None and 0 < low <= Decimal(1).scaleb(-(places or 0))
    fraction = rf"(?:\.[0-9]{{0,{places}}})?" if places else ""
    number = rf"[0-9]{{1,{whole}}}{fraction}" if whole else "0?" + fraction
    if places:
        number = rf"(?:{number}|\.[0-9]{{1,{places}}})"
    return "^" + (r"(?![0.]*$)" if positive else "") + sign + number + "$"


def _trimmed_length_pattern(field: serializers.CharField, schema: dict[str, Any]) -> dict[str, str]:
    """A text field trims its input before checking it is not blank and long enough.

    So `minLength` alone lets through "   " or a secret padded with spaces;
    this pattern asks for what is left after trimming: at least one character
    that is not white space, or `min_length` characters from the first such
    character to the last.
    """
    has_pattern = "pattern" in schema or any(
        isinstance(validator, RegexValidator) for validator in field.validators
    )
    if not field.trim_whitespace or has_pattern or schema.get("type") != "string":
        return {}
    least = field.min_length or (0 if field.allow_blank else 1)
    if least == 0:
        return {}
    if least == 1:
        return {"pattern": r"\S"}
    return {"pattern": rf"\S[\s\S]{{{least - 2},}}\S"}


class AutoSchema(BaseAutoSchema):
    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        """drf-spectacular's mapping, plus what the field's validators declare.

        A field or validator with an `openapi_schema` dict (e.g. "not zero")
        adds it to the field's schema, so the rule is written once and both
        validated and documented; a decimal string gets `decimal_pattern`.
        """
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            isinstance(field, serializers.DecimalField)
            and schema.get("format") == "decimal"
            and "pattern" in schema
        ):
            schema["pattern"] = decimal_pattern(field)
        if direction == "request" and isinstance(field, serializers.CharField):
            schema.update(_trimmed_length_pattern(field, schema))
        for declares in (field, *field.validators):
            schema.update(copy.deepcopy(getattr(declares, "openapi_schema", {})))
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        """A request body also states the serializer's `openapi_schema` (rules across fields)."""
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            schema.update(copy.deepcopy(getattr(serializer, "openapi_schema", {})))
        return schema

    def _generic_errors(self, operation: dict[str, Any]) -> dict[str, str]:
        view = self.view
        errors: dict[str, str] = {}
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation or self.method in _BODY_METHODS
        if has_body or any(p.get("in") != "path" for p in parameters):
            errors["400"] = "`invalid`: the body, a query parameter or a header is not valid."
        if view.get_authenticators():
            errors["401"] = "`not_authenticated` or `authentication_failed` (bad or expired token)."
        if any(not isinstance(p, _NO_FORBIDDEN) for p in view.get_permissions()):
            errors["403"] = "`permission_denied`: the caller lacks the permission."
        if any(p.get("in") == "path" for p in parameters):
            errors["404"] = "`not_found`: no such object, or not the caller's."
        elif self._is_list_view() and self._get_paginator():
            errors["404"] = "`not_found`: a `page` past the last one."
        if has_body:
            errors["413"] = "`request_too_large`: the body is over the limit (1 MiB)."
        if "requestBody" in operation:
            errors["415"] = "`unsupported_media_type`: the body is not `application/json`."
        if view.get_throttles():
            errors["429"] = "`throttled`: too many requests; see the `Retry-After` header."
        return errors

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code, description in self._generic_errors(operation).items():
            if code not in responses:
                response = OpenApiResponse(ErrorSerializer, description=description)
                responses[code] = self._get_response_for_code(response, code)
        for code, declared in list(responses.items()):
            # An error a view declared with a description only still has the one Error body.
            if code[:1] in "45" and code != "414" and "content" not in declared:
                response = OpenApiResponse(ErrorSerializer, description=declared["description"])
                responses[code] = self._get_response_for_code(response, code)
        bad_request = responses.get("400")
        if "requestBody" in operation and bad_request is not None:
            described = bad_request.get("description", "").strip()
            if "parse_error" not in described:
                also = "Also `parse_error`: the body is not valid JSON."
                bad_request["description"] = f"{described} {also}".strip()
        if "429" in responses:
            # The contract: a 429 always comes with `Retry-After` (core.errors sets it).
            headers = responses["429"].setdefault("headers", {})
            headers.setdefault("Retry-After", copy.deepcopy(RETRY_AFTER))  # no YAML anchors
        # django-filter reads `?status=` (empty) as "no filter", and the schema says so.
        filterset = getattr(self.view, "filterset_class", None)
        for parameter in operation.get("parameters", []):
            in_filterset = filterset and parameter["name"] in filterset.base_filters
            # DRF reads `?flag=` as null for a nullable BooleanField.
            schema = parameter.get("schema", {})
            null_flag = schema.get("type") == "boolean" and schema.get("nullable")
            # A view that validates its query with a serializer given the QueryDict
            # (DRF drops an empty value of an optional field) says so with this flag.
            drops_empty = getattr(self.view, "query_drops_empty_values", False)
            if (in_filterset or null_flag or drops_empty) and parameter.get("in") == "query":
                parameter["allowEmptyValue"] = True
        if any(p.get("in") == "query" for p in operation.get("parameters", [])):
            # gunicorn refuses a request line over 4094 bytes itself (a plain-text body).
            responses.setdefault("414", {"description": "The URL (query string) is too long."})
        operation["responses"] = dict(sorted(responses.items()))
        return operation
