#!/usr/bin/env bash
# scripts/run.sh -- what `make run` starts: vigil with the built-in test
# camera and a simulated device to control (build/vigil-devsim).
#
#   scripts/run.sh [vigil arguments]
#
# With a broker listening on 127.0.0.1:1883 (e.g. Debian's mosquitto
# service), the simulated camera head "cam1" speaks MQTT and a second
# simulated device, the lamp "lamp1", speaks CoAP (config/demo-mqtt.json).
# Without one, "cam1" speaks CoAP alone (config/demo-coap.json). The
# simulators stop with vigil.
#
# Anyone may watch the demo stream (auth.anonymous in the config); the device
# controls need an operator token, which this script mints with a secret kept
# in build/demo.secret and prints as a dashboard link.
#
# Arguments go to vigil; with your own --config no simulator is started.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}

for a in "$@"; do
    case "$a" in --config|--config=*) exec "$B/vigil" "$@" ;; esac
done

broker_up() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }

sims=()
vigil=
cleanup() {
    # vigil first (it closes viewers with 1001), then the simulators.
    [ -n "$vigil" ] && kill "$vigil" 2>/dev/null && wait "$vigil" 2>/dev/null
    for p in "${sims[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts a simulator quietly (its JSON event lines go to build/devsim-<id>.log).
sim() {
    local id=$1; shift
    "$B/vigil-devsim" --id "$id" "$@" >"$B/devsim-$id.log" 2>&1 &
    sims+=($!)
}

secret="$B/demo.secret"
if [ ! -s "$secret" ]; then
    (umask 077 && openssl rand -hex 32 >"$secret") || exit 1
fi

if broker_up; then
    config=config/demo-mqtt.json
    sim cam1 --mqtt-host 127.0.0.1 --mqtt-port 1883 --prefix vigil
    sim lamp1 --coap-port 5683
    echo "run: MQTT broker on 127.0.0.1:1883: device cam1 over MQTT, lamp1 over CoAP ($config)"
else
    config=config/demo-coap.json
    sim cam1 --coap-port 5683
    echo "run: no MQTT broker on 127.0.0.1:1883: device cam1 over CoAP ($config)"
fi

port=8080
prev=
for a in "$@"; do
    [ "$prev" = --port ] && port=$a
    case "$a" in --port=*) port=${a#--port=} ;; esac
    prev=$a
done
token=$("$B/vigil" token --secret-file "$secret" --role operator --sub demo-operator \
    --streams '*' --devices '*' --ttl 86400)
echo "run: dashboard: http://localhost:$port/  (operator, 24 h: http://localhost:$port/#token=$token )"

"$B/vigil" --config "$config" --auth-secret-file "$secret" "$@" &
vigil=$!
wait "$vigil"
status=$?
vigil=
exit "$status"
