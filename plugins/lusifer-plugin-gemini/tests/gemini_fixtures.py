"""What the Gemini tests share: a test key and a feedback request with its context."""

from __future__ import annotations

from lusifer import LLMRequest, Message
from lusifer.testing import feedback_schema, sample_feedback_context

KEY = "gm-test-key-0123456789"

REQUEST = LLMRequest(
    "feedback",
    (
        Message("system", "You rate movies."),
        Message("user", "Rate 1 and 2."),
        Message("assistant", '{"ratings": {}}'),
        Message("user", "Again, all of them."),
    ),
    schema=feedback_schema(["1", "2"], 1, 5),
    schema_name="feedback",
    context=sample_feedback_context(["1", "2"]),
)
