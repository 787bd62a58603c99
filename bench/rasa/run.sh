#!/usr/bin/env bash
# The Rasa 3.6 benchmark, end to end (docs/benchmarks.md, "Rasa 3.6"; docs/rasa.md):
# set up bench/rasa/.venv, export the knowledge base, train the NLU model, serve it on a
# local port, and evaluate it - alone and inside SafeCampus - with bench/rasa/evaluate.py;
# then a linear classifier on the same data (linear_baseline.py) as a sanity check.
#
#   bash bench/rasa/run.sh [EVAL_FILE]     # default ../shared/eval/dev_questions.jsonl
#
# Run from anywhere; the project's .venv must exist (make test or make demo creates it).
# RASA_PORT chooses the port (default: a free one), RETRAIN=1 retrains an existing model.
# Work files go to bench/rasa/work/ (git-ignored); the figures to work/figures.json.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$here/work"
eval_file="$(realpath "${1:-$root/../shared/eval/dev_questions.jsonl}")"
rasa="$here/.venv/bin/rasa"
project_python="$root/.venv/bin/python"

export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1

bash "$here/setup.sh"
mkdir -p "$work"
cd "$root"

echo "== export"
"$root/.venv/bin/safecampus" kb export-rasa "$work/export"

model="$work/models/safecampus.tar.gz"
inputs="$(cat "$here/config.yml" "$work/export/domain.yml" "$work/export/data/nlu.yml" \
    | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$model" || "${RETRAIN:-0}" == 1 \
    || "$(cat "$work/models/inputs.sha256" 2>/dev/null)" != "$inputs" ]]; then
    echo "== train (bench/rasa/config.yml; several minutes on 2 cores)"
    start=$(date +%s)
    (cd "$work" && "$rasa" train nlu --config "$here/config.yml" --domain export/domain.yml \
        --nlu export/data/nlu.yml --out models --fixed-model-name safecampus) \
        > "$work/train.log" 2>&1 || { tail -n 30 "$work/train.log"; exit 1; }
    echo "$inputs" > "$work/models/inputs.sha256"
    echo "trained in $(($(date +%s) - start)) s: $model"
fi

port="${RASA_PORT:-$("$project_python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
echo "== serve on 127.0.0.1:$port"
"$rasa" run --enable-api -m "$model" -i 127.0.0.1 -p "$port" > "$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do
    if curl -sf "http://127.0.0.1:$port/status" | grep -q '"fingerprint"'; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then tail -n 30 "$work/server.log"; exit 1; fi
    sleep 1
done
curl -sf "http://127.0.0.1:$port/status" > /dev/null || { echo "server did not start"; exit 1; }

echo "== evaluate $eval_file"
"$project_python" "$here/evaluate.py" "$eval_file" --url "http://127.0.0.1:$port" \
    --server-pid "$server" --calibrate --json "$work/figures.json"

echo "== linear baseline on the same export (a sanity check for Rasa's figures)"
"$here/.venv/bin/python" "$here/linear_baseline.py" "$work/export" "$eval_file" 2>/dev/null
