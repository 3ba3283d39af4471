"""The catalog back office: the category tree, products with variants, stock and its ledger.

Every save and delete goes through `catalog.services` (WritesThroughServices),
as the API's do. Stock is never edited in a form: the "adjust stock" page
calls `catalog.services.stock_adjust`, which writes the ledger.
"""

import itertools
from typing import Any
from weakref import WeakKeyDictionary

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import (
    Exists,
    JSONField,
    Max,
    Min,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from catalog import services
from catalog.exceptions import InsufficientStock
from catalog.models import Category, Product, StockMovement, Variant
from catalog.selectors import product_ids_by_name, variants_by_sku_prefix
from core import replicas
from core.admin_list import QuickActionCheckbox
from core.admin_paginator import EstimatedCountPaginator
from core.admin_search import WordSearch, in_array
from core.csv_export import csv_lines
from core.errors import DomainError, FieldInvalid, ProtectedObject

# The path of names from the root ("Clothing / Shirts / Tees") and the depth of
# each category, walked up with a recursive CTE inside the row's own query.
# Sorting by the path lists the tree depth-first. The depth cap stops a cycle.
TREE_PATH_SQL = """
WITH RECURSIVE up(id, parent_id, path, depth) AS (
    SELECT c.id, c.parent_id, CAST(c.name AS TEXT), 0 FROM catalog_category c
    WHERE c.id = catalog_category.id
    UNION ALL
    SELECT p.id, p.parent_id, p.name || ' / ' || up.path, up.depth + 1
    FROM catalog_category p JOIN up ON p.id = up.parent_id WHERE up.depth < 64
)
SELECT {column} FROM up ORDER BY depth DESC LIMIT 1
"""


# The refusal a POST met on its first pass, shown as form errors on the second.
_REFUSALS: WeakKeyDictionary[HttpRequest, DomainError] = WeakKeyDictionary()


def _refusal_errors(error: DomainError) -> dict[str | None, list[str]]:
    """{field, or None for the whole form: messages} of a service's refusal."""
    errors = error.extra.get("errors")
    if isinstance(errors, dict):
        return {field: [str(m) for m in texts] for field, texts in errors.items()}
    return {None: [str(error.detail)]}


def _changed(form: forms.ModelForm) -> dict[str, Any]:
    """The form's changed model fields with their cleaned values: what a service updates."""
    editable = set(form._meta.fields or ())
    return {name: form.cleaned_data[name] for name in form.changed_data if name in editable}


def _adopt(obj: Model, created: Model) -> None:
    """Make the admin's unsaved instance the row a service created (the admin logs and
    redirects with it, and its inlines attach to it)."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(created, field.attname))
    obj._state.adding = False
    obj._state.db = created._state.db


class WritesThroughServices(QuickActionCheckbox, admin.ModelAdmin):
    """Every save and delete goes through catalog.services, which keep the rules
    (only changed fields written, rows locked in order, ordered variants kept,
    unique slugs) and invalidate the public catalog cache on commit.

    Subclasses implement save_model, delete_model and delete_queryset (and
    save_formset when they have inlines) with services: ModelAdmin's own
    would save whole rows, so here they refuse to run. A service's refusal (a
    DomainError) rolls the whole submission back and is shown as an error on
    the form, or as a message for deletes.
    """

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        raise NotImplementedError(f"{type(self).__name__} must save through catalog.services.")

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        raise NotImplementedError(f"{type(self).__name__} must save through catalog.services.")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must delete through catalog.services.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        raise NotImplementedError(f"{type(self).__name__} must delete through catalog.services.")

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            if request.method != "POST" or request in _REFUSALS:
                raise
            _REFUSALS[request] = error
        try:
            # The same submission again: get_form() makes the refusal a form error.
            return super().changeform_view(request, object_id, form_url, extra_context)
        finally:
            _REFUSALS.pop(request, None)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is None and "slug" in form_class.base_fields:
            slug = form_class.base_fields["slug"]
            slug.required = False
            slug.help_text = "Leave empty to make it from the name."
        refusal = _REFUSALS.get(request)
        if refusal is None:
            return form_class
        errors = _refusal_errors(refusal)

        class RefusedForm(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> Any:
                cleaned = super().clean()
                for field, texts in errors.items():
                    self.add_error(field if field in self.fields else None, texts)
                return cleaned

        return RefusedForm

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            self.message_user(request, f"Nothing was deleted: {error.detail}", messages.ERROR)
            opts = self.opts
            return HttpResponseRedirect(
                reverse(
                    f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                    args=[object_id],
                )
            )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """A POST (an action such as "delete selected") is all or nothing, its log entries too."""
        if request.method != "POST":
            return super().changelist_view(request, extra_context)
        try:
            with transaction.atomic():
                return super().changelist_view(request, extra_context)
        except DomainError as error:
            self.message_user(request, f"Nothing was changed: {error.detail}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class CategoryTreeChangeList(ChangeList):
    """Unsorted, the list is the tree: Category.Meta.ordering (position, name) would
    otherwise come before the tree path, and children would leave their parents."""

    def get_ordering(self, request: HttpRequest, queryset: QuerySet) -> list[Any]:
        if ORDER_VAR in self.params:
            return super().get_ordering(request, queryset)
        return ["tree_path", "id"]


class CategoryAdminForm(forms.ModelForm):
    def clean_parent(self) -> Category | None:
        parent: Category | None = self.cleaned_data["parent"]
        try:
            services.category_parent_check(category=self.instance, parent=parent)
        except FieldInvalid as error:
            raise forms.ValidationError(error.extra["errors"]["parent"]) from None
        return parent


@admin.register(Category)
class CategoryAdmin(WritesThroughServices):
    form = CategoryAdminForm
    list_display = ["tree_name", "slug", "position"]
    # Columns the change lists sort by are those an index serves (tests/admin/test_indexes.py).
    sortable_by = ["tree_name", "slug"]
    search_fields = ["name", "slug"]
    search_help_text = "Finds categories by a part of their name or slug."
    autocomplete_fields = ["parent"]
    prepopulated_fields = {"slug": ("name",)}
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                tree_path=RawSQL(TREE_PATH_SQL.format(column="path"), []),  # noqa: S611  # nosec B611
                tree_depth=RawSQL(TREE_PATH_SQL.format(column="depth"), []),  # noqa: S611  # nosec B611
            )
            .order_by("tree_path", "id")
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return CategoryTreeChangeList

    @admin.display(description="category (tree)", ordering="tree_path")
    def tree_name(self, obj: Category) -> str:
        depth = getattr(obj, "tree_depth", 0) or 0
        return format_html("{}{}", "\u2014 " * depth, obj.name)

    def save_model(self, request: HttpRequest, obj: Category, form: Any, change: bool) -> None:
        if change:
            services.category_update(category=obj, data=_changed(form))
            return
        data = form.cleaned_data
        created = services.category_create(
            name=data["name"],
            slug=data["slug"] or None,
            parent=data["parent"],
            description=data["description"],
            position=data["position"],
        )
        _adopt(obj, created)

    def delete_model(self, request: HttpRequest, obj: Category) -> None:
        services.category_delete(category=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Category]) -> None:
        services.categories_delete(category_ids=queryset.order_by().values_list("pk", flat=True))


class OutOfStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("out", "Out of stock"), ("in", "In stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        in_stock = Exists(Variant.objects.filter(product=OuterRef("pk"), stock__gt=0))
        if self.value() == "out":
            return queryset.filter(~in_stock)
        if self.value() == "in":
            return queryset.filter(in_stock)
        return queryset


class VariantInlineForm(forms.ModelForm):
    """Narrow inputs: a variant is one line, Stock and Delete stay on screen at 1400 px."""

    class Meta:
        model = Variant
        fields = ["sku", "name", "attributes", "price", "weight_grams"]
        labels = {"weight_grams": "Weight (g)"}
        widgets = {
            "sku": forms.TextInput(attrs={"size": 14}),
            "name": forms.TextInput(attrs={"size": 18}),
            "price": forms.NumberInput(attrs={"style": "width: 7em"}),
            "weight_grams": forms.NumberInput(attrs={"style": "width: 6em"}),
        }


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantInlineForm
    extra = 0
    fields = ["sku", "name", "attributes", "price", "weight_grams", "stock", "adjust_stock"]
    readonly_fields = ["stock", "adjust_stock"]
    show_change_link = True
    # One line per variant: the attributes box grows when staff type into it.
    formfield_overrides = {JSONField: {"widget": forms.Textarea(attrs={"rows": 1, "cols": 24})}}

    @admin.display(description="")
    def adjust_stock(self, obj: Variant) -> str:
        if obj.pk is None:
            return ""
        url = reverse("admin:catalog_variant_adjust_stock", args=[obj.pk])
        return format_html('<a href="{}">Adjust stock</a>', url)


def _variant_stat(aggregate: Any) -> Subquery:
    return Subquery(
        Variant.objects.filter(product=OuterRef("pk"))
        .order_by()
        .values("product")
        .annotate(value=aggregate)
        .values("value")
    )


@admin.register(Product)
class ProductAdmin(WordSearch, WritesThroughServices):
    paginator = EstimatedCountPaginator
    list_display = ["name", "category", "price_range", "total_stock", "is_published"]
    list_filter = ["is_published", OutOfStockFilter, "tax_class", "category"]
    list_select_related = ["category"]
    sortable_by = ["name", "is_published"]
    search_fields = ["name", "variants__sku"]  # see get_search_results
    search_help_text = (
        "Finds products by a word of their name (or a part of one) or by the start "
        "of a variant's SKU, in any case. Several words: products matching all of them."
    )
    autocomplete_fields = ["category"]
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ["created_at", "updated_at"]
    fields = [
        "name",
        "slug",
        "category",
        "tax_class",
        "description",
        "is_published",
        "created_at",
        "updated_at",
    ]
    inlines = [VariantInline]
    actions = ["publish", "unpublish", "export_csv"]
    show_full_result_count = False
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return (
            super()
            .get_queryset(request)
            .defer("search_vector")
            .annotate(
                low_price=_variant_stat(Min("price")),
                high_price=_variant_stat(Max("price")),
                stock_total=_variant_stat(Sum("stock")),
            )
        )

    @admin.display(description="price", ordering="low_price")
    def price_range(self, obj: Product) -> str:
        low, high = getattr(obj, "low_price", None), getattr(obj, "high_price", None)
        if low is None:
            return "—"
        return f"{low:.2f}" if low == high else f"{low:.2f} to {high:.2f}"

    @admin.display(description="total stock", ordering="stock_total")
    def total_stock(self, obj: Product) -> int:
        return getattr(obj, "stock_total", None) or 0

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        if change:
            # The inline's variant writes come next, in this same transaction.
            services.products_with_variants_lock(product_ids=[obj.pk])
            services.product_update(product=obj, data=_changed(form))
            return
        data = form.cleaned_data
        created = services.product_create(
            name=data["name"],
            slug=data["slug"] or None,
            category=data["category"],
            description=data["description"],
            is_published=data["is_published"],
            tax_class=data["tax_class"],
        )
        _adopt(obj, created)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The variant inline: deletes, then changes, then additions, each through its service.

        Fills the formset's new/changed/deleted object lists, as formset.save()
        would, for the admin's change message.
        """
        deleting = formset.deleted_forms
        deleted = [f.instance for f in formset.initial_forms if f in deleting]
        if deleted:
            try:
                services.variants_delete(variant_ids=[v.pk for v in deleted])
            except ProtectedObject as error:
                skus = ", ".join(v.sku for v in deleted)
                raise ProtectedObject(f"Variant(s) {skus} not deleted: {error.detail}") from None
        formset.deleted_objects = deleted
        formset.changed_objects = []
        for variant_form in formset.initial_forms:
            if variant_form in deleting or not variant_form.has_changed():
                continue
            services.variant_update(variant=variant_form.instance, data=_changed(variant_form))
            formset.changed_objects.append((variant_form.instance, variant_form.changed_data))
        formset.new_objects = []
        for variant_form in formset.extra_forms:
            if variant_form in deleting or not variant_form.has_changed():
                continue
            data = variant_form.cleaned_data
            created = services.variant_create(
                product=form.instance,
                sku=data["sku"],
                price=data["price"],
                name=data["name"],
                attributes=data["attributes"],
                weight_grams=data["weight_grams"],
            )
            _adopt(variant_form.instance, created)
            formset.new_objects.append(variant_form.instance)

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        services.product_delete(product=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        services.products_delete(product_ids=queryset.order_by().values_list("pk", flat=True))

    def search_word(self, word: str) -> Q:
        """Products whose name contains the word or with a variant whose SKU starts with it."""
        return Q(name__icontains=word) | in_array(
            "pk", variants_by_sku_prefix(prefix=word).values("product_id")
        )

    @admin.action(description="Publish selected products", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        changed = services.products_publish(
            product_ids=queryset.values_list("pk", flat=True), is_published=True
        )
        self._log_each(request, queryset, "Published")
        self.message_user(request, f"{changed} product(s) published.", messages.SUCCESS)

    @admin.action(description="Unpublish selected products", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        changed = services.products_publish(
            product_ids=queryset.values_list("pk", flat=True), is_published=False
        )
        self._log_each(request, queryset, "Unpublished")
        self.message_user(request, f"{changed} product(s) unpublished.", messages.SUCCESS)

    def _log_each(self, request: HttpRequest, queryset: QuerySet[Product], message: str) -> None:
        """An admin log entry per selected product (one bulk insert), as a form save makes."""
        LogEntry.objects.log_actions(
            user_id=request.user.pk or 0,  # always set: admin views need a logged-in user
            queryset=Product.objects.filter(pk__in=queryset.values("pk")).only("pk", "name"),
            action_flag=CHANGE,
            change_message=message,
        )

    @admin.action(description="Export selected products as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Product]) -> HttpResponse:
        """Streamed: rows are read in chunks and written as they come, whatever the count."""
        header = ["slug", "name", "category", "published", "min_price", "max_price", "stock"]
        rows = (
            queryset.order_by("pk")
            .values_list(  # type: ignore[misc]  # annotations of get_queryset
                "slug",
                "name",
                "category__slug",
                "is_published",
                "low_price",
                "high_price",
                "stock_total",
            )
            .iterator(chunk_size=2000)
        )
        # Read from a replica (core.replicas) when one is healthy and the user wrote nothing lately.
        with replicas.reads_from_replica(request):
            lines = replicas.streamed(csv_lines(itertools.chain([header], rows)))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="products.csv"'
        return response  # type: ignore[return-value]


class StockAdjustmentForm(forms.Form):
    delta = forms.IntegerField(
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text="Positive adds stock, negative removes it.",
    )
    reason = forms.CharField(max_length=500)

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("Must not be zero.")
        return delta


@admin.register(Variant)
class VariantAdmin(WordSearch, WritesThroughServices):
    paginator = EstimatedCountPaginator
    list_display = ["sku", "product", "name", "price", "stock"]
    list_select_related = ["product"]
    sortable_by = ["sku", "stock"]
    search_fields = ["sku", "product__name"]  # see get_search_results
    search_help_text = (
        "Finds variants by the start of their SKU or by a word of their product's name, "
        "in any case. Several words: variants matching all of them."
    )
    autocomplete_fields = ["product"]
    readonly_fields = ["stock_level"]
    fields = ["product", "sku", "name", "attributes", "price", "weight_grams", "stock_level"]
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Variant, form: Any, change: bool) -> None:
        if change:
            services.variant_update(variant=obj, data=_changed(form))
            return
        data = form.cleaned_data
        created = services.variant_create(
            product=data["product"],
            sku=data["sku"],
            price=data["price"],
            name=data["name"],
            attributes=data["attributes"],
            weight_grams=data["weight_grams"],
        )
        _adopt(obj, created)

    def delete_model(self, request: HttpRequest, obj: Variant) -> None:
        services.variant_delete(variant=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Variant]) -> None:
        services.variants_delete(variant_ids=queryset.order_by().values_list("pk", flat=True))

    def search_word(self, word: str) -> Q:
        """Variants whose SKU starts with the word or whose product's name contains it."""
        return in_array("pk", variants_by_sku_prefix(prefix=word).values("pk")) | in_array(
            "product_id", product_ids_by_name(word=word)
        )

    @admin.display(description="Stock")
    def stock_level(self, obj: Variant) -> str:
        if obj.pk is None:
            return "0 (save the variant first, then adjust its stock)"
        url = reverse("admin:catalog_variant_adjust_stock", args=[obj.pk])
        return format_html('{} <a class="button" href="{}">Adjust stock</a>', obj.stock, url)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/adjust-stock/",
                self.admin_site.admin_view(self.adjust_stock_view),
                name="catalog_variant_adjust_stock",
            ),
            *super().get_urls(),
        ]

    def adjust_stock_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A form that goes through `stock_adjust`, so the change is in the ledger."""
        if not request.user.has_perm("catalog.add_stockmovement"):
            raise PermissionDenied
        variant = get_object_or_404(Variant.objects.select_related("product"), pk=pk)
        form = StockAdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.stock_adjust(
                    variant=variant,
                    delta=form.cleaned_data["delta"],
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                )
            except InsufficientStock:
                form.add_error("delta", f"Only {variant.stock} in stock: it cannot go below zero.")
            else:
                self.log_change(
                    request,
                    variant,
                    f"Stock adjusted by {form.cleaned_data['delta']:+d} to {variant.stock}: "
                    f"{form.cleaned_data['reason']}",
                )
                self.message_user(
                    request, f"Stock of {variant.sku} is now {variant.stock}.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:catalog_variant_change", args=[variant.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Adjust stock of {variant.sku}",
            "variant": variant,
            "form": form,
            "ledger_url": reverse("admin:catalog_stockmovement_changelist")
            + f"?variant__id__exact={variant.pk}",
        }
        return TemplateResponse(request, "admin/catalog/variant/adjust_stock.html", context)


@admin.register(StockMovement)
class StockMovementAdmin(QuickActionCheckbox, WordSearch, admin.ModelAdmin):
    """The ledger, read-only: rows are only ever written by the stock services."""

    paginator = EstimatedCountPaginator
    list_display = [
        "created_at",
        "variant",
        "kind",
        "delta",
        "reason",
        "order_number",
        "created_by",
    ]
    list_filter = ["kind", "created_at"]
    sortable_by = ["created_at"]
    list_select_related = ["variant", "created_by"]
    search_fields = ["variant__sku", "order_number", "reason"]  # see get_search_results
    search_help_text = (
        "Finds movements by the start of a SKU, by the start of an order number "
        "(SR-7KQ2) or by a word of the reason. Several words: movements matching all of them."
    )
    show_full_result_count = False
    list_per_page = 100

    def search_word(self, word: str) -> Q:
        """Movements of a variant whose SKU starts with the word, of an order whose
        number starts with it, or whose reason contains it."""
        return (
            Q(order_number__startswith=word.upper())
            | Q(reason__icontains=word)
            | in_array("variant_id", variants_by_sku_prefix(prefix=word).values("pk"))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
