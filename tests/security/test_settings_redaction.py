"""Secrets in settings (JWT key, SMTP password, database password) are SecretStr: no repr,
str, JSON dump or default log rendering of a settings object shows them."""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from candour_intake.settings import IntakeSettings
from candour_moderation.settings import ModerationSettings
from candour_notifications.settings import NotificationsSettings
from candour_search.settings import SearchSettings

pytestmark = pytest.mark.unit

JWT_KEY = "jwt-key-5f1d2c9a7b3e4d60a8c1f2e3d4b5a697"
DB_PASSWORD = "db-password-0b9c8d7e6f5a"
SMTP_PASSWORD = "smtp-password-a1b2c3d4e5f6"
DATABASE_URL = f"postgresql://candour:{DB_PASSWORD}@db.internal:5432/candour"


@pytest.mark.parametrize(
    "settings_class", [IntakeSettings, ModerationSettings, NotificationsSettings, SearchSettings]
)
def test_settings_never_render_their_secrets(
    settings_class: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through the environment, as in production.
    monkeypatch.setenv("CANDOUR_JWT_SECRET", JWT_KEY)
    monkeypatch.setenv("CANDOUR_DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("CANDOUR_SMTP_USERNAME", "candour")
    monkeypatch.setenv("CANDOUR_SMTP_PASSWORD", SMTP_PASSWORD)
    settings = settings_class()
    renderings = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        f"{settings!r} {settings}",
    ]
    for text in renderings:
        for secret in (JWT_KEY, DB_PASSWORD, SMTP_PASSWORD):
            assert secret not in text, f"{settings_class.__name__} shows a secret"
    # The secrets are still there for the code that needs them.
    assert settings.jwt_secret.get_secret_value() == JWT_KEY  # type: ignore[attr-defined]
    assert DB_PASSWORD in settings.database_url.get_secret_value()  # type: ignore[attr-defined]
    if isinstance(settings, NotificationsSettings):
        assert settings.smtp_password is not None
        assert settings.smtp_password.get_secret_value() == SMTP_PASSWORD
