#!/usr/bin/env bash
# The "Done when" check of issue 28: `python main.py data` into an empty folder, against a mirror
# on 127.0.0.1 that serves archives rebuilt from a data folder laid out as ../shared/data, makes
# files whose decompressed contents have the same SHA-256 as that folder's (the pins in
# common/download.py), and `python main.py --quick` runs on them. Nothing goes past loopback.
#
#   SRC=../shared/data bash tools/data_roundtrip.sh   (work folder: $WORK, default a new temp one)
#
# The rebuilt archives' own SHA-256s reach the run through $HW3_DATA_SOURCE_DIGESTS (their bytes
# are not the published ones: tools/data_mirror.py); the files written are checked against the
# pins, which it cannot change. Heavy steps take the shared CPU lock (/tmp/hw3_cpu.lock) where
# flock exists.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python}"
src="$(cd "${SRC:-../shared/data}" && pwd)"
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
lock() { if command -v flock >/dev/null; then flock /tmp/hw3_cpu.lock "$@"; else "$@"; fi; }

echo "== 1. archives rebuilt from $src into $work/mirror"
"$python" -m tools.data_mirror "$src" "$work/mirror" "$work/digests.json"

port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')"
"$python" -m http.server "$port" --bind 127.0.0.1 --directory "$work/mirror" \
  >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null \
    && break
  sleep 0.1
done

echo "== 2. python main.py data into the empty folder $work/data, through the mirror"
rm -rf "$work/data"
mkdir -p "$work/data"
export HW3_DATA_DIR="$work/data" HW3_DATA_MIRROR="http://127.0.0.1:$port"
export HW3_DATA_SOURCE_DIGESTS="$work/digests.json" HW3_CACHE_DIR="$work/cache" MPLBACKEND=Agg
lock "$python" main.py data

echo "== 3. the decompressed contents against $src"
"$python" - "$src" "$work/data" <<'PY'
import gzip, hashlib, sys
from pathlib import Path
src, made = Path(sys.argv[1]), Path(sys.argv[2])
bad = 0
for path in sorted(p for p in src.rglob("*") if p.is_file() and p.parent != src):
    rel = path.relative_to(src)
    def digest(p):
        data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        return hashlib.sha256(data).hexdigest()
    mine = made / rel
    same = mine.is_file() and digest(mine) == digest(path)
    bad += not same
    print(f"{'same' if same else 'DIFFERENT'}  {digest(path)}  {rel}")
if bad:
    sys.exit(f"{bad} file(s) differ")
print("every file holds the same bytes once decompressed")
PY

echo "== 4. python main.py --quick on it"
lock "$python" main.py --quick --out-dir "$work/runs" --ckpt-dir "$work/runs/checkpoints" | tail -5
echo "round trip done: $work"
