#!/bin/sh
# /docker-entrypoint-initdb.d hook of pg-ha-a (docker-compose.yml, profile `ha`): let the standby
# container stream from the primary. Throwaway test servers only: trust, no password.
echo 'host replication all all trust' >> "$PGDATA/pg_hba.conf"
