#!/usr/bin/env bash
# CI: build the API, worker and operator images with podman on the python:3.11-slim stand-in and
# smoke-run each (scripts/build-images.sh does both). The OCR image carries torch (several GB) and
# is built only with SIE_CI_BUILD_OCR=1. Then the stand-ins for compose.yaml's PostgreSQL, Redis and
# Meilisearch images (.ci/standin-images.sh). Afterwards `pytest -m slow tests/delivery` runs the
# deploy smoke test and `docker-compose up` of compose.yaml against the images just built.
#
# Cache the directory $SIE_BUILD_CACHE (default /var/cache/sie-build) between CI runs: it holds the
# base image tarball, which takes minutes to make.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
images=(api worker operator)
if [[ ${SIE_CI_BUILD_OCR:-0} == 1 ]]; then
    images+=(ocr-worker)
fi
scripts/build-images.sh "${images[@]}"
exec .ci/standin-images.sh
