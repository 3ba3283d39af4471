"""Change-list columns rendered without the template engine, for long lists.

Django renders each row's action checkbox through the form renderer (a
template per row): a fifth of the CPU of a 50-row order list. The same HTML,
made with `format_html`, costs next to nothing.
"""

from typing import Any

from django.contrib.admin import helpers
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _


class QuickActionCheckbox:
    """A ModelAdmin mixin: the action checkbox column, the same HTML as Django's."""

    def action_checkbox(self, obj: Any) -> SafeString:
        label = format_html(_("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )
