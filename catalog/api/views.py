"""Catalog endpoints: shape in (serializer) -> service -> shape out (selector dicts)."""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.http import HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from catalog import listing, selectors, services
from catalog.api import fastpath, integration_views, product_changes, response_cache
from catalog.api import serializers as s
from catalog.api.list_query import ProductListQuery, product_list_query
from catalog.api.permissions import (
    ModelPermissions,
    StockPermissions,
    sees_unpublished,
)
from catalog.models import SKU_PATTERN, Category, Product, Variant
from core.cursor import wants_cursor_page
from core.openapi import ErrorSerializer
from core.pagination import BoundedCountPagination
from core.replicas import replica_reads


class ProductPagination(BoundedCountPagination):
    """A search counts its matches up to SEARCH_COUNT_MAX (`count_exact: false` past it)."""

    count_bound = listing.SEARCH_COUNT_MAX


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


INVALID = _error("Invalid input: `code` is `invalid`, `errors` names the fields.")
UNAUTHENTICATED = _error("No or bad token: `not_authenticated` or `authentication_failed`.")
FORBIDDEN = _error("`permission_denied`: the Django model permission is missing.")
NOT_FOUND = _error("`not_found`.")
PROTECTED = _error("`protected`: still in use (products, sub-categories or orders).")
NOT_MODIFIED = OpenApiResponse(description="`If-None-Match` matched the current `ETag`.")
WRITE_ERRORS = {400: INVALID, 401: UNAUTHENTICATED, 403: FORBIDDEN}
ETAG_HEADER = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="An `ETag` from an earlier response: 304 when unchanged.",
)
# The ledger is a detail action, so drf-spectacular does not add the paginator's parameters.
PAGE_PARAMS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="A page number."),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1},
        description="Results per page: default 20, at most 100 (a larger value is capped).",
    ),
]


class CatalogViewSet(GenericViewSet):
    """Public reads; writes need the matching Django model permission (staff roles)."""

    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_permissions(self) -> list[BasePermission]:
        if self.action in ("list", "retrieve"):
            return [AllowAny()]
        return [DjangoModelPermissions()]


@extend_schema_view(
    list=extend_schema(summary="List categories", responses={200: s.CategorySerializer}),
    retrieve=extend_schema(
        summary="A category", responses={200: s.CategorySerializer, 404: NOT_FOUND}
    ),
    create=extend_schema(
        summary="Create a category",
        request=s.CategoryInputSerializer,
        responses={201: s.CategorySerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a category",
        request=s.CategoryInputSerializer,
        responses={200: s.CategorySerializer, **WRITE_ERRORS, 404: NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a category",
        responses={
            204: None,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: PROTECTED,
        },
    ),
)
class CategoryViewSet(CatalogViewSet):
    """Categories: a tree (`parent` is the parent's slug). Public reads, staff writes."""

    queryset = Category.objects.all()
    # What the browsable API builds its form from (the views pick their serializers).
    serializer_class = s.CategoryInputSerializer

    def _render(self, category: Category) -> dict[str, Any]:
        row = selectors.category_queryset().get(pk=category.pk)
        return selectors.category_item(row)

    @replica_reads
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.category_queryset())
        assert page is not None
        return self.get_paginated_response([selectors.category_item(row) for row in page])

    @replica_reads
    def retrieve(self, request: Request, slug: str) -> Response:
        row = selectors.category_queryset().filter(slug=slug).first()
        if row is None:
            raise NotFound()
        return Response(selectors.category_item(row))

    def create(self, request: Request) -> Response:
        data = s.CategoryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category = services.category_create(**data.validated_data)
        return Response(self._render(category), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, slug: str) -> Response:
        category = get_object_or_404(Category, slug=slug)
        data = s.CategoryInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.category_update(category=category, data=data.validated_data)
        return Response(self._render(category))

    def destroy(self, request: Request, slug: str) -> Response:
        services.category_delete(category=get_object_or_404(Category, slug=slug))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="List products",
        description=(
            "Published products (staff with `catalog.view_product` also see unpublished "
            "ones, with `is_published`). Public responses are cached and carry an `ETag`. "
            "Each parameter may be given once: a repeated one is a 400 `invalid` whose "
            "`errors` names it. Unknown parameters are ignored (and left out of the page links). "
            "With `updated_after`, a `cursor` or `ordering=updated_at`: cursor pages by last "
            "change, ordered by `(updated_at, id)`, never cached; a product changes with its "
            "variants (their stock too) and its category's slug."
        ),
        parameters=[
            s.ProductListParamsSerializer,
            *product_changes.PRODUCT_CURSOR_PARAMS,
            ETAG_HEADER,
        ],
        responses={
            200: product_changes.PRODUCT_PAGE,
            304: NOT_MODIFIED,
            400: _error(
                "Invalid input: `code` is `invalid`, `errors` names the fields "
                "(a value that is not valid, or a parameter given more than once)."
            ),
        },
    ),
    retrieve=extend_schema(
        summary="A product with its variants",
        parameters=[ETAG_HEADER],
        responses={200: s.ProductDetailSerializer, 304: NOT_MODIFIED, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Create a product",
        request=s.ProductInputSerializer,
        responses={201: s.ProductDetailSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a product",
        request=s.ProductInputSerializer,
        responses={200: s.ProductDetailSerializer, **WRITE_ERRORS, 404: NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a product",
        description="A product that appears in orders cannot be deleted: unpublish it instead.",
        responses={
            204: None,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: PROTECTED,
        },
    ),
)
class ProductViewSet(CatalogViewSet):
    """Products. Public reads of published products (cached), staff writes."""

    serializer_class = s.ProductInputSerializer

    queryset = Product.objects.all()
    pagination_class = ProductPagination
    # The response cache's scope per action, and how the action parses its query
    # (None: it reads none). catalog.api.fastpath reads them.
    cache_scopes: dict[str, tuple[str, Callable[[QueryDict], ProductListQuery] | None]] = {
        "list": ("products", product_list_query),
        "retrieve": ("product", None),
    }
    # What list answers of one catalog generation share in this process (counts, subtrees).
    listing_memo = listing.GenerationMemo()

    def check_throttles(self, request: Request) -> None:
        if not fastpath.throttled_here(request):  # else counted once already
            super().check_throttles(request)

    def _respond(
        self,
        request: Request,
        build: Callable[[bool, int | None], Any],
        scope: str,
        query: str,
        product: str | None = None,
    ) -> Any:
        """`build(staff, generation)` answered through the response cache when public JSON."""
        staff = sees_unpublished(request.user)
        if request.accepted_renderer.format != "json":  # the browsable API in development
            return Response(build(staff, None))
        return response_cache.json_response(
            request,
            build=partial(build, staff),
            scope=scope,
            query=query,
            cacheable=not staff,
            product=product,
        )

    @replica_reads
    def list(self, request: Request) -> HttpResponseBase:
        if wants_cursor_page(request):
            response = Response(product_changes.product_cursor_page(request))
            # As the numbered pages: the body depends on who asks.
            patch_vary_headers(response, ("Authorization", "Cookie"))
            return response
        # Parsed once: the answer is built from `query` and cached under `query.canonical`.
        query = product_list_query(request.query_params)

        def build(staff: bool, generation: int | None) -> Any:
            memo = None if generation is None else self.listing_memo.at(generation)
            paginator = self.paginator
            assert isinstance(paginator, ProductPagination)
            products = listing.ProductListing(
                filters=query.filters,
                staff=staff,
                page_size=paginator.page_size_for(query.page),
                memo=memo,
            )
            items = paginator.paginate_rows(
                request,
                fetch=products.items,
                count=products.count,
                page=query.page,
                link_query=query.links,
                count_exact=products.count_exact,
            )
            return self.get_paginated_response(items).data

        return self._respond(request, build, self.cache_scopes["list"][0], query.canonical)

    @replica_reads
    def retrieve(self, request: Request, slug: str) -> HttpResponseBase:
        def build(staff: bool, generation: int | None) -> Any:
            item = listing.product_detail(slug=slug, staff=staff)
            if item is None:
                raise NotFound()
            return item

        # The page of one product reads no query parameter: the path is its whole key.
        return self._respond(request, build, self.cache_scopes["retrieve"][0], "", product=slug)

    def _render(self, product: Product) -> dict[str, Any] | None:
        return listing.product_detail(slug=product.slug, staff=True)

    def create(self, request: Request) -> Response:
        data = s.ProductInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(**data.validated_data)
        return Response(self._render(product), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, slug: str) -> Response:
        product = get_object_or_404(Product, slug=slug)
        data = s.ProductInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.product_update(product=product, data=data.validated_data)
        return Response(self._render(product))

    def destroy(self, request: Request, slug: str) -> Response:
        services.product_delete(product=get_object_or_404(Product, slug=slug))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    retrieve=extend_schema(
        summary="A variant (staff)",
        responses={200: s.VariantSerializer, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Create a variant (no stock: use stock adjustments)",
        request=s.VariantInputSerializer,
        responses={201: s.VariantSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a variant (never its stock)",
        request=s.VariantInputSerializer,
        responses={200: s.VariantSerializer, **WRITE_ERRORS, 404: NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Delete a variant",
        responses={
            204: None,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: PROTECTED,
        },
    ),
)
class VariantViewSet(CatalogViewSet):
    """Variants by SKU, and their stock ledger. Staff only, Django model permissions."""

    serializer_class = s.VariantInputSerializer
    queryset = Variant.objects.select_related("product")
    permission_classes = [ModelPermissions]

    def get_permissions(self) -> list[Any]:
        return [permission() for permission in self.permission_classes]

    lookup_field = "sku"
    lookup_value_regex = SKU_PATTERN
    # The list's filters read an empty value as no filter (core.openapi).
    query_drops_empty_values = True

    @integration_views.VARIANT_LIST_SCHEMA
    def list(self, request: Request) -> Response:
        return integration_views.variant_list(request)

    def create(self, request: Request) -> Response:
        data = s.VariantInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        variant = services.variant_create(**data.validated_data)
        return Response(selectors.variant_item(variant), status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, sku: str) -> Response:
        return Response(selectors.variant_item(self.get_object()))

    def partial_update(self, request: Request, sku: str) -> Response:
        variant = self.get_object()
        data = s.VariantInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.variant_update(variant=variant, data=data.validated_data)
        return Response(selectors.variant_item(variant))

    def destroy(self, request: Request, sku: str) -> Response:
        services.variant_delete(variant=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Adjust the stock of a variant (writes the ledger)",
        request=s.StockAdjustmentInputSerializer,
        responses={
            201: s.StockAdjustmentSerializer,
            **WRITE_ERRORS,
            404: NOT_FOUND,
            409: OpenApiResponse(
                s.InsufficientStockSerializer,
                description="`insufficient_stock`: the stock would go below zero.",
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="stock-adjustments",
        permission_classes=[StockPermissions],
    )
    def stock_adjustments(self, request: Request, sku: str) -> Response:
        variant = get_object_or_404(Variant, sku=sku)
        data = s.StockAdjustmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movement = services.stock_adjust(
            variant=variant,
            delta=data.validated_data["delta"],
            reason=data.validated_data["reason"],
            user=request.user,
        )
        body = {
            "sku": variant.sku,
            "stock": variant.stock,
            "movement": selectors.stock_movement_dict(movement),
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The stock ledger of a variant, newest first",
        request=None,
        parameters=PAGE_PARAMS,
        responses={
            200: s.StockMovementPageSerializer,
            400: INVALID,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: _error("`not_found`: no such variant, or a `page` past the last one."),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="stock-movements",
        permission_classes=[StockPermissions],
    )
    def stock_movements(self, request: Request, sku: str) -> Response:
        variant = get_object_or_404(Variant.objects.only("pk"), sku=sku)
        page = self.paginate_queryset(selectors.stock_movement_queryset(variant=variant))
        assert page is not None
        return self.get_paginated_response([selectors.stock_movement_item(r) for r in page])
