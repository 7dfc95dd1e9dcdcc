"""The demo business backend: a seeded SQLite store standing in for a company's own account and billing API."""

from actions.backend.store import (
    BackendUnavailable,
    Charge,
    CodeCheck,
    Customer,
    DemoBackend,
    Invoice,
    Link,
    PaymentMethod,
    Refund,
)

__all__ = [
    "BackendUnavailable", "Charge", "CodeCheck", "Customer", "DemoBackend", "Invoice", "Link", "PaymentMethod", "Refund",
]
