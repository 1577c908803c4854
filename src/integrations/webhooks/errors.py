"""Refusals of the webhook operations: a contract code, a message key and its parameters.

The API turns them into its errors (``api.errors``), where the messages are.
"""

from __future__ import annotations

from typing import Any, ClassVar


class WebhookError(Exception):
    code: ClassVar[str] = "BAD_USER_INPUT"

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(f"{key}: {params}")


class InvalidWebhook(WebhookError):
    code = "BAD_USER_INPUT"


class WebhookNotFound(WebhookError):
    code = "NOT_FOUND"


class WebhookConflict(WebhookError):
    code = "CONFLICT"
