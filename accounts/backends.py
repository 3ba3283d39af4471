"""Django's ModelBackend, with all of a user's permissions read in one statement.

Django reads a user's own permissions and their groups' permissions in two ORM
queries whose building costs more CPU than running them: about 1 ms of every
request that checks a permission, and every order placed does (its answer
lists `allowed_transitions`). One plain SQL statement returns the same set.
"""

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection


@cache
def _permissions_sql() -> str:
    """Codenames of the user's permissions, direct or through a group (table names from models)."""
    user_model = get_user_model()
    direct = user_model.user_permissions.through._meta
    membership = user_model.groups.through._meta
    granted = Group.permissions.through._meta
    qn = connection.ops.quote_name

    def column(meta: Any, model: Any) -> str:
        return qn(next(f.column for f in meta.fields if f.related_model is model))

    # Only quoted identifiers from the models are formatted in; the user id is a parameter.
    return (
        f"SELECT ct.{qn('app_label')}, p.{qn('codename')} "  # noqa: S608  # nosec B608
        f"FROM {qn(Permission._meta.db_table)} p "
        f"JOIN {qn(ContentType._meta.db_table)} ct ON ct.{qn('id')} = p.{qn('content_type_id')} "
        f"WHERE p.{qn('id')} IN ("
        f"SELECT d.{column(direct, Permission)} FROM {qn(direct.db_table)} d "
        f"WHERE d.{column(direct, user_model)} = %s "
        f"UNION SELECT g.{column(granted, Permission)} FROM {qn(granted.db_table)} g "
        f"JOIN {qn(membership.db_table)} m ON m.{column(membership, Group)} = "
        f"g.{column(granted, Group)} WHERE m.{column(membership, user_model)} = %s)"
    )


class ModelBackend(DjangoModelBackend):
    """Same answers as Django's (tests compare them); superusers keep Django's path."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj=obj)
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                cursor.execute(_permissions_sql(), [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor.fetchall()}
        cached: set[str] = user_obj._perm_cache
        return cached
