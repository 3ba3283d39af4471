"""What OPTIONS answers on the API (DRF reads this module while it defines APIView)."""

from typing import Any

from rest_framework.metadata import SimpleMetadata


class SchemaOnlyMetadata(SimpleMetadata):
    """OPTIONS answers name, description, renderers and parsers; the OpenAPI schema has the rest.

    DRF's default also describes the fields of each action by instantiating the
    view's serializer, which fails (500) on views that pick a serializer per
    action, and repeats what /api/schema/ documents.
    """

    def determine_actions(self, request: Any, view: Any) -> dict[str, Any]:
        return {}
