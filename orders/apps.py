from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from accounts.personal_data import register_eraser, register_exporter
        from orders.personal_data import orders_erase, orders_export

        register_exporter("orders")(orders_export)
        register_eraser(orders_erase)
