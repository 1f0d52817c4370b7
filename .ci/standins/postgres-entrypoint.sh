#!/bin/sh
# The official postgres image's start-up, as far as compose.yaml uses it: on an empty $PGDATA make
# the cluster with $POSTGRES_USER/$POSTGRES_PASSWORD and the database $POSTGRES_DB, then serve on
# every interface as the `postgres` user.
set -eu
if [ "${1:-}" != postgres ]; then
    exec "$@"
fi
user="${POSTGRES_USER:-postgres}"
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > "$password_file"
    chown postgres "$password_file"
    runuser -u postgres -- initdb --username="$user" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 -D "$PGDATA" >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    database="${POSTGRES_DB:-$user}"
    if [ "$database" != postgres ]; then
        echo "CREATE DATABASE \"$database\" OWNER \"$user\"" \
            | runuser -u postgres -- postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi
fi
shift
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*' "$@"
