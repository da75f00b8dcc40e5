#!/usr/bin/env bash
# Writes the test-only TLS files of this folder (README.md).
set -euo pipefail
cd "$(dirname "$0")"
days=36500
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days -subj "/CN=Chorus test CA" \
    -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days -subj "/CN=Another CA" \
    -keyout other-ca-key.pem -out other-ca.pem 2>/dev/null
issue() { # name, CN, issuer, extensions
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout "$1-key.pem" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3-key.pem" -CAcreateserial -days $days -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm "$1.csr" "$1.ext"
}
issue server chorusd ca "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
issue client billing-app ca "extendedKeyUsage=clientAuth"
issue stranger billing-app other-ca "extendedKeyUsage=clientAuth"
rm -f *.srl ca-key.pem other-ca-key.pem
chmod 600 *-key.pem
