#!/bin/sh
# First start of the PostgreSQL container only (docker-entrypoint-initdb.d):
# one login role and one database per service. Each service owns its
# database and cannot connect to the others'.
set -eu

create_service_database() {
  name=$1
  password=$2
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
}

create_service_database candour_intake "$INTAKE_DB_PASSWORD"
create_service_database candour_moderation "$MODERATION_DB_PASSWORD"
create_service_database candour_notifications "$NOTIFICATIONS_DB_PASSWORD"
create_service_database candour_search "$SEARCH_DB_PASSWORD"
