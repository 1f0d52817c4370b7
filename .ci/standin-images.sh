#!/usr/bin/env bash
# Build local stand-ins for the third-party images compose.yaml names (PostgreSQL, Redis,
# Meilisearch), tagged with those names, so `docker-compose up` of the real compose.yaml runs on
# a machine that reaches no registry. What each stand-in is, and its limits: .ci/standins/Containerfile.
# An image of that name that is not a stand-in (a real one, pulled) is kept as it is.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=../scripts/build-images.sh
source scripts/build-images.sh  # ensure_base_image, log, die, CACHE_DIR, CONTAINERS_CONF

declare -A STANDINS=(
    [postgres]=docker.io/library/postgres:16
    [redis]=docker.io/library/redis:7
    [meilisearch]=docker.io/getmeili/meilisearch:v1.15.2
)

is_real_image() {
    podman image exists "$1" \
        && [[ -z $(podman image inspect --format '{{index .Labels "org.sie.standin"}}' "$1") ]]
}

main() {
    local started=$SECONDS
    mkdir -p "$CACHE_DIR"
    ensure_base_image
    context="$(mktemp -d)"
    trap 'rm -rf "$context"' EXIT
    cp .ci/standins/* tests/utils/meili_fake.py ../shared/schemas/meilisearch-openapi-1.15.2.json "$context/"
    for target in postgres redis meilisearch; do
        local image=${STANDINS[$target]}
        if is_real_image "$image"; then
            log "$image is present and not a stand-in: kept"
            continue
        fi
        podman build --pull=never --network=host --layers --target "$target" -t "$image" "$context" \
            >"$CACHE_DIR/build-standin-$target.log" 2>&1 \
            || { tail -40 "$CACHE_DIR/build-standin-$target.log" >&2; die "build stand-in $target"; }
    done
    log "stand-ins for ${STANDINS[*]} ready in $((SECONDS - started)) s"
}

main "$@"
