#!/bin/sh
# The official redis image turns protected mode off (other containers reach it by network);
# Debian's build keeps it on when no configuration file is given.
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    set -- redis-server --protected-mode no "$@"
fi
exec "$@"
