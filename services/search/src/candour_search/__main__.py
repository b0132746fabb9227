"""`python -m candour_search`: serve search."""

from candour_common.logging import configure_logging
from candour_common.runtime import run
from candour_search.bootstrap import create_app
from candour_search.settings import SearchSettings


def main() -> None:
    settings = SearchSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
