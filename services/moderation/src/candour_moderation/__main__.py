"""`python -m candour_moderation`: serve moderation."""

from candour_common.logging import configure_logging
from candour_common.runtime import run
from candour_moderation.bootstrap import create_app
from candour_moderation.settings import ModerationSettings


def main() -> None:
    settings = ModerationSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
