"""Request body parsers of the API."""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's, but JSON nested too deeply for Python's decoder is a 400 `parse_error`.

    The decoder raises RecursionError (not ValueError) past about a thousand
    levels, which DRF let through as a 500; a 1 MiB body holds far more.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
