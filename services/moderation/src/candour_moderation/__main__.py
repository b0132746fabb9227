"""`python -m candour_moderation`: serve moderation."""

from candour_common.logging import configure_logging
from candour_common.runtime import run
from candour_common.startup import settings_or_exit
from candour_moderation.bootstrap import create_app
from candour_moderation.settings import ModerationSettings


def main() -> None:
    settings = settings_or_exit(ModerationSettings)  # before any connection: exits 78 on bad keys
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
