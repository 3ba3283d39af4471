from typing import Any

from django import template
from django.contrib.admin.views.main import ChangeList

from core.admin_dates import bounded_date_hierarchy as bounded_context

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def bounded_date_hierarchy(cl: ChangeList) -> dict[str, Any]:
    """Django's date hierarchy, without its DISTINCT over the whole table."""
    return bounded_context(cl)
