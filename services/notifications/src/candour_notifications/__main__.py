"""`python -m candour_notifications`: serve notifications."""

from candour_common.logging import configure_logging
from candour_common.runtime import run
from candour_common.startup import settings_or_exit
from candour_notifications.bootstrap import create_app
from candour_notifications.settings import NotificationsSettings


def main() -> None:
    settings = settings_or_exit(
        NotificationsSettings
    )  # before any connection: exits 78 on bad keys
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
