#!/usr/bin/env bash
# certs/make-certs.sh -- a local certificate authority and certificates
# signed by it, for vigil's https/wss listener, an MQTT broker's TLS
# listener and CoAP devices speaking DTLS with certificates.
#
#   certs/make-certs.sh [-o DIR] [--ca-dir DIR] [--client NAME]... [--device HOST]...
#                       [--ca-only] [--days N] [NAME|IP]...
#
#   -o, --out DIR    where to write (default: certs/out next to this script)
#   --ca-dir DIR     keep the CA's key (ca.key, ca.pem) here instead of in the
#                    output directory, so the server never sees the CA's key;
#                    ca.pem is still copied into the output directory
#   --client NAME    also a client certificate client-NAME.pem/.key (CN=NAME,
#                    extendedKeyUsage clientAuth): a device or vigil itself
#                    proving who it is to an MQTT broker or a CoAP device
#   --device HOST    also a server certificate device-HOST.pem/.key naming only
#                    HOST (a host name or IP address): for a CoAP device
#                    serving coaps:// with a certificate, or an MQTT broker
#   --ca-only        only the CA (e.g. a second, unrelated CA for tests)
#   --days N         validity of the server/client certificates (default 397)
#   NAME|IP          extra subjectAltNames of the server certificate, besides
#                    localhost, 127.0.0.1 and ::1 (the first one is its CN)
#
# Writes into DIR:
#   ca.pem, ca.key          the CA (reused when present, so a browser or
#                           device that already trusts it keeps working;
#                           with --ca-dir the key stays there)
#   server.pem, server.key  the server certificate (issued anew on each run)
#   client-NAME.pem/.key    with --client
#   device-HOST.pem/.key    with --device
#
# Keys are EC P-256, written with mode 0600; certificates 0644. Nothing here
# should be committed: certs/.gitignore ignores out/, *.key and *.pem.
# Uses only the openssl command (genpkey, req, x509).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/out"
cadir=
days=397
ca_only=0
clients=()
devices=()
names=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
    case "$1" in
    -o | --out) out=${2:?-o needs a directory}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --ca-dir) cadir=${2:?--ca-dir needs a directory}; shift 2 ;;
    --ca-dir=*) cadir=${1#*=}; shift ;;
    --client) clients+=("${2:?--client needs a name}"); shift 2 ;;
    --client=*) clients+=("${1#*=}"); shift ;;
    --device) devices+=("${2:?--device needs a host name or IP address}"); shift 2 ;;
    --device=*) devices+=("${1#*=}"); shift ;;
    --ca-only) ca_only=1; shift ;;
    --days) days=${2:?--days needs a number}; shift 2 ;;
    -h | --help) usage 0 ;;
    -*) echo "make-certs.sh: unknown option $1" >&2; usage ;;
    *) names+=("$1"); shift ;;
    esac
done
[[ $days =~ ^[0-9]+$ ]] && [ "$days" -ge 1 ] || { echo "make-certs.sh: --days must be a positive number" >&2; exit 2; }
for n in "${names[@]+"${names[@]}"}" "${clients[@]+"${clients[@]}"}" "${devices[@]+"${devices[@]}"}"; do
    [[ $n =~ ^[A-Za-z0-9.:*_-]+$ ]] || { echo "make-certs.sh: '$n' is not a host name or IP address" >&2; exit 2; }
done

cadir=${cadir:-$out}
mkdir -p "$out" "$cadir"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }
serial() { echo "0x$(openssl rand -hex 16)"; }
is_ip() { [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ || $1 == *:* ]]; }

# ---- the CA ----------------------------------------------------------------
if [ -s "$cadir/ca.pem" ] && [ -s "$cadir/ca.key" ]; then
    echo "make-certs.sh: reusing the CA in $cadir/ca.pem"
else
    newkey "$cadir/ca.key"
    cat >"$tmp/ca.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
x509_extensions = ext
[dn]
O = vigil local CA
CN = vigil local CA $(date -u +%Y-%m-%d) $(openssl rand -hex 4)
[ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF
    openssl req -new -x509 -config "$tmp/ca.cnf" -key "$cadir/ca.key" -sha256 -days 3650 \
        -set_serial "$(serial)" -out "$cadir/ca.pem"
    chmod 644 "$cadir/ca.pem"
    echo "make-certs.sh: new CA $cadir/ca.pem"
fi
if [ "$cadir" != "$out" ]; then
    cp "$cadir/ca.pem" "$out/ca.pem.tmp" && chmod 644 "$out/ca.pem.tmp" && mv -f "$out/ca.pem.tmp" "$out/ca.pem"
fi
[ "$ca_only" -eq 1 ] && exit 0

# ---- certificates signed by it ---------------------------------------------
# issue NAME CN EKU SAN: NAME.pem + NAME.key
issue() {
    local name=$1 cn=$2 eku=$3 san=$4
    newkey "$out/$name.key"
    openssl req -new -key "$out/$name.key" -subj "/O=vigil/CN=$cn" -out "$tmp/$name.csr"
    {
        echo "basicConstraints = critical, CA:FALSE"
        echo "keyUsage = critical, digitalSignature"
        echo "extendedKeyUsage = $eku"
        echo "subjectKeyIdentifier = hash"
        echo "authorityKeyIdentifier = keyid"
        [ -n "$san" ] && echo "subjectAltName = $san"
    } >"$tmp/$name.ext"
    openssl x509 -req -in "$tmp/$name.csr" -CA "$cadir/ca.pem" -CAkey "$cadir/ca.key" \
        -set_serial "$(serial)" -sha256 -days "$days" -extfile "$tmp/$name.ext" \
        -out "$out/$name.pem" 2>/dev/null
    chmod 644 "$out/$name.pem"
    echo "make-certs.sh: $out/$name.pem ($cn)"
}

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for n in "${names[@]+"${names[@]}"}"; do
    if is_ip "$n"; then san="$san,IP:$n"; else san="$san,DNS:$n"; fi
done
issue server "${names[0]:-localhost}" serverAuth "$san"
for c in "${clients[@]+"${clients[@]}"}"; do
    issue "client-$c" "$c" clientAuth ""
done
for d in "${devices[@]+"${devices[@]}"}"; do
    if is_ip "$d"; then issue "device-$d" "$d" serverAuth "IP:$d"; else issue "device-$d" "$d" serverAuth "DNS:$d"; fi
done
