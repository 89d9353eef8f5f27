#!/bin/sh
# Temporal's two PostgreSQL databases and their schemas, the steps of the official compose's
# setup (temporalio/samples-server compose/scripts/setup-postgres.sh). Each step is idempotent, so
# it runs again on every `docker compose up`: create skips an existing database (duplicate_database,
# temporal common/persistence/sql/sqlplugin/postgresql/admin.go), setup-schema keeps a newer
# version (tools/common/schema/setuptask.go), update-schema applies only the missing versions.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
SCHEMA=/etc/temporal/schema/postgresql/v12

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" \
    -u "$POSTGRES_USER" "$@"
}

nc -z -w 10 "$POSTGRES_SEEDS" "${DB_PORT:-5432}"
for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  sql --db "$db" create
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$SCHEMA/${pair#*:}/versioned"
done
echo "Temporal's databases temporal and temporal_visibility are set up"
