import pytest

from candour_common.db.migrations import load_migrations, service_migrations

pytestmark = pytest.mark.unit


def test_common_migrations_come_first_and_are_ordered() -> None:
    migrations = service_migrations("candour_intake.migrations")
    assert migrations[0].package == "candour_common.db.sql"
    assert [m.version for m in load_migrations("candour_intake.migrations")] == sorted(
        m.version for m in load_migrations("candour_intake.migrations")
    )
    assert all(m.checksum for m in migrations)
