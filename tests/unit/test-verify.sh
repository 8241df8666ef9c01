#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Documents signed by our code, verified by peers we did not write: openssl smime and
# openssl cms with only the exported root; the PKCS#7 shape checked with openssl pkcs7; and
# azshci-attest against our documents and the real Azure document. Prints TAP.
#
#   test-verify.sh SIGN_HELPER AZSHCI_ATTEST SOURCE_ROOT

set -u

SIGN=${1:?sign helper}
ATTEST=${2:?azshci-attest}
SRC=${3:?source root}
VECTOR="$SRC/tests/vectors/azure-attested-2019-08-15.json"
DOMAIN=metadata.azshci.local
CN=host1.$DOMAIN
VM_ID=0f6a1f5e-7d0c-4bde-9a57-4a5e3a2c1b01

T=$(mktemp -d /tmp/azshci-test-verify-XXXXXX)
trap 'rm -rf "$T"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# check DESCRIPTION COMMAND...: passes when the command exits 0
check() {
        local d=$1
        shift
        if "$@" >"$T/out" 2>"$T/err"; then ok "$d"; else not_ok "$d"; sed 's/^/# /' "$T/err" "$T/out"; fi
}
# check_exit DESCRIPTION CODE COMMAND...: passes when the command exits with CODE
check_exit() {
        local d=$1 want=$2 rc
        shift 2
        "$@" >"$T/out" 2>"$T/err"
        rc=$?
        if [ "$rc" -eq "$want" ]; then ok "$d"; else not_ok "$d (exit $rc, expected $want)"; sed 's/^/# /' "$T/err"; fi
}
der_of() { sed -e 's/.*"signature":"\([^"]*\)".*/\1/' "$1" | base64 -d; }

now=$(date -u +%s)
created=$(date -u -d "@$now" '+%m/%d/%y %H:%M:%S -0000')
expires=$(date -u -d "@$((now + 6 * 3600))" '+%m/%d/%y %H:%M:%S -0000')
printf '{"nonce":"abc123","plan":{"name":"","product":"","publisher":""},"subscriptionId":"sub","timeStamp":{"createdOn":"%s","expiresOn":"%s"},"vmId":"%s"}' \
        "$created" "$expires" "$VM_ID" >"$T/payload"

for kt in rsa ecdsa; do
        S="$T/state-$kt"
        mkdir -p "$S"
        check "$kt: sign with the embedded CA" sh -c "'$SIGN' '$S' $kt '$T/payload' $CN >'$T/$kt.json'"
        der_of "$T/$kt.json" >"$T/$kt.der"

        check "$kt: openssl smime -verify -CAfile <root> accepts" \
                openssl smime -verify -inform DER -in "$T/$kt.der" -CAfile "$S/ca.pem" -out "$T/$kt.smime"
        check "$kt: smime output is the payload, byte for byte" cmp "$T/$kt.smime" "$T/payload"
        check "$kt: openssl cms -verify -CAfile <root> accepts" \
                openssl cms -verify -binary -inform DER -in "$T/$kt.der" -CAfile "$S/ca.pem" -out "$T/$kt.cms"
        check "$kt: cms output is the payload, byte for byte" cmp "$T/$kt.cms" "$T/payload"

        openssl pkcs7 -inform DER -in "$T/$kt.der" -print >"$T/$kt.print" 2>&1
        check "$kt: pkcs7: signed data with attached data" \
                grep -q 'type: pkcs7-signedData' "$T/$kt.print"
        check "$kt: pkcs7: no signed attributes" \
                sh -c "grep -A1 '^ *auth_attr:' '$T/$kt.print' | tail -n1 | grep -q '<ABSENT>'"
        check "$kt: pkcs7: one signer by issuer and serial, sha256" \
                sh -c "[ \$(grep -c 'issuer_and_serial:' '$T/$kt.print') -eq 1 ] && grep -A1 'digest_alg:' '$T/$kt.print' | grep -q 'sha256'"
        check "$kt: pkcs7: only the leaf certificate embedded" \
                sh -c "[ \$(openssl pkcs7 -inform DER -in '$T/$kt.der' -print_certs | grep -c '^subject=') -eq 1 ]"

        check_exit "$kt: azshci-attest verify accepts" 0 \
                "$ATTEST" verify --ca "$S/ca.pem" --nonce abc123 --vm-id "$VM_ID" --metadata-domain "$DOMAIN" "$T/$kt.json"
        "$ATTEST" verify --json --ca "$S/ca.pem" - <"$T/$kt.json" >"$T/$kt.attest"
        printf '\n' | cat "$T/payload" - >"$T/payload.nl"
        check "$kt: azshci-attest --json prints the signed payload" cmp "$T/$kt.attest" "$T/payload.nl"
        check_exit "$kt: wrong nonce: exit 6" 6 "$ATTEST" verify --ca "$S/ca.pem" --nonce other "$T/$kt.json"
        check_exit "$kt: wrong vmId: exit 7" 7 "$ATTEST" verify --ca "$S/ca.pem" --vm-id 0f6a1f5e-7d0c-4bde-9a57-4a5e3a2c1b02 "$T/$kt.json"
        check_exit "$kt: wrong domain: exit 5" 5 "$ATTEST" verify --ca "$S/ca.pem" --metadata-domain metadata.azure.com "$T/$kt.json"
        check_exit "$kt: no trusted root (system store): exit 4" 4 "$ATTEST" verify "$T/$kt.json"
done

# Contents of other sizes and characters: the DER lengths around the content need 1 to 3 bytes
# and the certificates take each of the three positions in base64's groups. openssl smime
# verifies each with the root and gives back the content byte for byte.
for kt in rsa ecdsa; do
        for size in 1 127 128 129 255 256 257 65535 65536 65537 70000; do
                yes "{\"nonce\":\"é漢字 🔐\"}\r" | head -c "$size" >"$T/sized"
                if ! "$SIGN" "$T/state-$kt" $kt "$T/sized" $CN >"$T/sized.json" 2>"$T/err"; then
                        not_ok "$kt: sign $size bytes"
                        sed 's/^/# /' "$T/err"
                        continue
                fi
                der_of "$T/sized.json" >"$T/sized.der"
                check "$kt: $size bytes of content: openssl smime -verify accepts, content unchanged" sh -c \
                        "openssl smime -verify -binary -inform DER -in '$T/sized.der' -CAfile '$T/state-$kt/ca.pem' -out '$T/sized.out' && cmp '$T/sized.out' '$T/sized'"
        done
done

# Another CA's root is not trusted by either verifier.
check_exit "openssl smime rejects a document under another root" 4 \
        openssl smime -verify -inform DER -in "$T/rsa.der" -CAfile "$T/state-ecdsa/ca.pem" -out /dev/null
check_exit "azshci-attest rejects a document under another root: exit 4" 4 \
        "$ATTEST" verify --ca "$T/state-ecdsa/ca.pem" "$T/rsa.json"

# The chain embedded on request: leaf + root.
check "sign with embed-chain" sh -c "'$SIGN' '$T/state-rsa' rsa '$T/payload' $CN embed-chain >'$T/chain.json'"
der_of "$T/chain.json" >"$T/chain.der"
check "embed-chain: two certificates embedded" \
        sh -c "[ \$(openssl pkcs7 -inform DER -in '$T/chain.der' -print_certs | grep -c '^subject=') -eq 2 ]"
check "embed-chain: openssl smime -verify accepts" \
        openssl smime -verify -inform DER -in "$T/chain.der" -CAfile "$T/state-rsa/ca.pem" -out /dev/null

# A tampered document: one byte of the payload changed inside the DER.
perl -0777 -pe 's/abc123/abc124/' <"$T/rsa.der" >"$T/tampered.der"
if ! cmp -s "$T/rsa.der" "$T/tampered.der"; then
        printf '{"encoding":"pkcs7","signature":"%s"}' "$(base64 -w0 "$T/tampered.der")" >"$T/tampered.json"
        check_exit "tampered: openssl smime rejects" 4 \
                openssl smime -verify -inform DER -in "$T/tampered.der" -CAfile "$T/state-rsa/ca.pem" -out /dev/null
        check_exit "tampered: azshci-attest exit 3" 3 "$ATTEST" verify --ca "$T/state-rsa/ca.pem" "$T/tampered.json"
else
        not_ok "tampering the DER changed nothing"
fi

# The real Azure document (tests/vectors/README.md): part of the tree, so missing is a failure.
check "azure vector: readable at tests/vectors/" test -r "$VECTOR"
check_exit "azure vector: verifies with --insecure-skip-chain --ignore-time" 0 \
        "$ATTEST" verify --insecure-skip-chain --ignore-time --metadata-domain metadata.azure.com \
        --nonce 20200221-205322 --vm-id e01fcd50-213b-4559-8fdf-d98c0086cde4 "$VECTOR"
check "azure vector: the insecure flags warn on stderr" \
        sh -c "'$ATTEST' verify --insecure-skip-chain --ignore-time '$VECTOR' 2>&1 >/dev/null | grep -q 'WARNING: --insecure-skip-chain' && '$ATTEST' verify --insecure-skip-chain --ignore-time '$VECTOR' 2>&1 >/dev/null | grep -q 'WARNING: --ignore-time'"
"$ATTEST" verify --json --insecure-skip-chain --ignore-time "$VECTOR" >"$T/az.json" 2>/dev/null
check "azure vector: payload as expected" grep -qxF \
        '{"nonce":"20200221-205322","plan":{"name":"","product":"","publisher":""},"subscriptionId":"ce73a2b0-d2e7-4ff6-b987-b32d6908de4e","timeStamp":{"createdOn":"02/21/20 14:53:22 -0000","expiresOn":"02/21/20 20:53:22 -0000"},"vmId":"e01fcd50-213b-4559-8fdf-d98c0086cde4"}' \
        "$T/az.json"
check_exit "azure vector: rejected by default (chain): exit 4" 4 "$ATTEST" verify "$VECTOR"
check_exit "azure vector: rejected with --insecure-skip-chain only (expired): exit 8" 8 \
        "$ATTEST" verify --insecure-skip-chain "$VECTOR"
check_exit "azure vector: rejected with --ignore-time only (chain): exit 4" 4 \
        "$ATTEST" verify --ignore-time "$VECTOR"
check_exit "azure vector: wrong nonce: exit 6" 6 \
        "$ATTEST" verify --insecure-skip-chain --ignore-time --nonce x "$VECTOR"

check_exit "usage: unknown option: exit 1" 1 "$ATTEST" verify --bogus
check_exit "usage: unreadable file: exit 1" 1 "$ATTEST" verify "$T/does-not-exist"
check_exit "malformed input: exit 2" 2 sh -c "echo '{\"encoding\":\"pkcs7\",\"signature\":\"AAAA\"}' | '$ATTEST' verify --insecure-skip-chain -"
check "--help documents the exit codes" sh -c "'$ATTEST' --help | grep -q 'Exit status' && '$ATTEST' verify --help | grep -q -- '--insecure-skip-chain'"

echo "1..$n"
[ "$failed" -eq 0 ]
