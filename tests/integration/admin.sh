#!/bin/bash
# signet-admin key provisioning against a fresh SoftHSM token: key
# generation (flags checked with pkcs11-tool), CSRs (openssl req -verify),
# certificate chains issued by a test CA (import-chain accepts the right one
# and refuses others), public key export, key list; then the stack's own
# token (scripts/stack.sh, built with these commands) passes
# signet-agent --check.  Everything lives in a temporary directory.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_tools softhsm2-util pkcs11-tool openssl
tmp_init admin
MODULE=${P11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
TOKEN=admin-test
PIN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export SOFTHSM2_CONF=$D/softhsm2.conf
mkdir -p "$D/tokens"
cat > "$SOFTHSM2_CONF" <<CONF
directories.tokendir = $D/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
softhsm2-util --init-token --free --label "$TOKEN" --so-pin 87654321 --pin "$PIN" >/dev/null || exit 1
( umask 077; printf '%s\n' "$PIN" > "$D/pin" )
H=(--module "$MODULE" --token "$TOKEN" --pin-file "$D/pin")
p11() { pkcs11-tool --module "$MODULE" --token-label "$TOKEN" "$@" 2>/dev/null; }

# expect_fail NAME PATTERN CMD...: exit status 1 and PATTERN on stderr
expect_fail() {
	local name=$1 pat=$2 rc
	shift 2
	"$@" >"$D/out" 2>"$D/err"
	rc=$?
	if [ "$rc" = 1 ] && grep -q -- "$pat" "$D/err"; then ok "$name"; else echo "exit $rc" >> "$D/err"; fail "$name" "$D/err"; fi
}
expect_usage() {
	local name=$1 rc
	shift
	"$@" >"$D/out" 2>"$D/err"
	rc=$?
	if [ "$rc" = 2 ]; then ok "$name"; else echo "exit $rc" >> "$D/err"; fail "$name" "$D/err"; fi
}

# --- generate ---
if "$ADMIN" key generate "${H[@]}" --label sig-ec --type ec-p256 --id 01 -o "$D/sig-ec.pub.pem" 2>"$D/err" &&
   openssl pkey -pubin -in "$D/sig-ec.pub.pem" -noout -text 2>/dev/null | grep -q "prime256v1"; then
	ok "key generate ec-p256 writes a P-256 public key"
else
	fail "key generate ec-p256" "$D/err"
fi
if "$ADMIN" key generate "${H[@]}" --label sig-rsa --type rsa-3072 --id 02 > "$D/sig-rsa.pub.pem" 2>"$D/err" &&
   openssl pkey -pubin -in "$D/sig-rsa.pub.pem" -noout -text 2>/dev/null | grep -q "3072 bit"; then
	ok "key generate rsa-3072 prints an RSA-3072 public key"
else
	fail "key generate rsa-3072" "$D/err"
fi
"$ADMIN" key generate "${H[@]}" --label attest --type ec-p256 -o "$D/attest.pub.pem" 2>"$D/gen-attest.err"
if grep -q "pkcs11:object=attest;id=%" "$D/gen-attest.err"; then ok "key generate without --id picks an id and prints the URI"; else fail "key generate default id" "$D/gen-attest.err"; fi

p11 --login --pin "$PIN" --list-objects --type privkey > "$D/objs"
for label in sig-ec sig-rsa attest; do
	block=$(awk -v l="$label" '/^Private Key Object/{b=""} {b=b"\n"$0} /label:/{if ($2==l) f=1} /Access:/{if (f) {print b; f=0}}' "$D/objs")
	if echo "$block" | grep -q "Access:.*sensitive, always sensitive, never extractable" &&
	   ! echo "$block" | grep -q "Access:.*[^r] extractable" &&
	   echo "$block" | grep -q "Usage: *sign$"; then
		ok "pkcs11-tool: $label is sensitive, never extractable, sign only"
	else
		fail "pkcs11-tool flags of $label" "$D/objs"
	fi
done

expect_fail "key generate refuses a label in use" "already exists" "$ADMIN" key generate "${H[@]}" --label sig-ec --type ec-p256 --id 09
expect_fail "key generate refuses an id in use" "this id already exists" "$ADMIN" key generate "${H[@]}" --label fresh --type ec-p256 --id 02
expect_fail "key generate refuses a bad label" "label" "$ADMIN" key generate "${H[@]}" --label 'a b' --type ec-p256
expect_usage "key generate refuses an unknown type" "$ADMIN" key generate "${H[@]}" --label x --type ec-p384
expect_usage "key generate refuses an odd-length id" "$ADMIN" key generate "${H[@]}" --label x --type ec-p256 --id 012
expect_usage "key generate refuses an id over 64 bytes" "$ADMIN" key generate "${H[@]}" --label x --type ec-p256 --id "$(printf '%0130d' 0)"
expect_usage "key generate needs an HSM" "$ADMIN" key generate --label x --type ec-p256
expect_usage "options that do not apply are refused" "$ADMIN" key export "${H[@]}" --key sig-ec --subject /CN=x
expect_usage "-c and --module exclude each other" "$ADMIN" key list -c /nonexistent "${H[@]}"
( umask 022; printf '%s\n' "$PIN" > "$D/pin-open" )
expect_fail "a group-readable PIN file is refused" "PIN file" "$ADMIN" key list --module "$MODULE" --token "$TOKEN" --pin-file "$D/pin-open"
expect_fail "an unknown token is refused" "no token labelled" "$ADMIN" key list --module "$MODULE" --token nosuch --pin-file "$D/pin"

# --- export ---
for label in sig-ec sig-rsa attest; do
	p11 --read-object --type pubkey --label "$label" -o "$D/$label.der" >/dev/null
	openssl pkey -pubin -inform DER -in "$D/$label.der" -out "$D/$label.tool.pem" 2>/dev/null
	if "$ADMIN" key export "${H[@]}" --key "$label" -o "$D/$label.exp.pem" 2>"$D/err" &&
	   cmp -s "$D/$label.exp.pem" "$D/$label.tool.pem"; then
		ok "key export $label matches pkcs11-tool --read-object"
	else
		fail "key export $label" "$D/err"
	fi
done
if "$ADMIN" key export "${H[@]}" --key 'pkcs11:id=%02' 2>/dev/null | cmp -s - "$D/sig-rsa.tool.pem"; then ok "key export by URI (id) to stdout"; else fail "key export by URI"; fi
expect_fail "key export of an unknown key" "no private key matches" "$ADMIN" key export "${H[@]}" --key nosuch
# A key the agent refuses (extractable) is refused here too.
p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 77 --label loose --usage-sign --extractable >/dev/null
expect_fail "key export refuses an extractable key" "refused" "$ADMIN" key export "${H[@]}" --key loose

# --- csr ---
for label in sig-ec sig-rsa; do
	if "$ADMIN" key csr "${H[@]}" --key "$label" --subject "/O=signet test/OU=a\/b/CN=$label" -o "$D/$label.csr" 2>"$D/err" &&
	   openssl req -in "$D/$label.csr" -verify -noout 2>&1 | grep -q "verify OK" &&
	   openssl req -in "$D/$label.csr" -noout -pubkey | cmp -s - "$D/$label.pub.pem" &&
	   openssl req -in "$D/$label.csr" -noout -subject -nameopt oneline | grep -q "subject=O = signet test, OU = a/b, CN = $label"; then
		ok "key csr $label: openssl req -verify accepts it, with the key's public key and the subject"
	else
		fail "key csr $label" "$D/err"
	fi
done
if openssl req -in "$D/sig-ec.csr" -noout -text | grep -q "Signature Algorithm: ecdsa-with-SHA256" &&
   openssl req -in "$D/sig-rsa.csr" -noout -text | grep -q "Signature Algorithm: sha256WithRSAEncryption"; then
	ok "key csr: ecdsa-with-SHA256 and sha256WithRSAEncryption"
else
	fail "key csr signature algorithms"
fi
expect_fail "key csr: unknown attribute type" "unknown attribute type" "$ADMIN" key csr "${H[@]}" --key sig-ec --subject "/XX=y"
expect_fail "key csr: subject without leading slash" "form /O=" "$ADMIN" key csr "${H[@]}" --key sig-ec --subject "CN=x"
expect_fail "key csr: empty value" "both non-empty" "$ADMIN" key csr "${H[@]}" --key sig-ec --subject "/CN="
expect_fail "key csr: multi-valued RDN" "multi-valued" "$ADMIN" key csr "${H[@]}" --key sig-ec --subject "/CN=a+OU=b"
expect_fail "key csr: country of three letters" "refuses" "$ADMIN" key csr "${H[@]}" --key sig-ec --subject "/C=DEU/CN=x"
expect_fail "key csr: 17 attributes" "more than 16" "$ADMIN" key csr "${H[@]}" --key sig-ec --subject "$(for i in $(seq 17); do printf '/OU=%s' "$i"; done)"
expect_fail "key csr: subject over 1024 bytes" "1 to 1024" "$ADMIN" key csr "${H[@]}" --key sig-ec --subject "/CN=$(printf '%01030d' 0)"

# --- a test CA issues the certificates ---
cat > "$D/ext.cnf" <<'CNF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_noku]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
subjectKeyIdentifier = hash
CNF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/root.key" 2>/dev/null
openssl req -new -x509 -key "$D/root.key" -subj "/O=signet test/CN=root" -days 30 -config "$D/ext.cnf" -extensions root -out "$D/root.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/inter.key" 2>/dev/null
openssl req -new -key "$D/inter.key" -subj "/O=signet test/CN=intermediate" -out "$D/inter.csr" 2>/dev/null
openssl x509 -req -in "$D/inter.csr" -CA "$D/root.pem" -CAkey "$D/root.key" -set_serial 2 -days 30 -extfile "$D/ext.cnf" -extensions inter -out "$D/inter.pem" 2>/dev/null
issue() { # CSR OUT EXT [DAYS]
	openssl x509 -req -in "$1" -CA "$D/inter.pem" -CAkey "$D/inter.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
		-days "${4:-20}" -extfile "$D/ext.cnf" -extensions "$3" -out "$2" 2>/dev/null
}
issue "$D/sig-ec.csr" "$D/sig-ec.crt" leaf
issue "$D/sig-rsa.csr" "$D/sig-rsa.crt" leaf
cat "$D/sig-ec.crt" "$D/inter.pem" "$D/root.pem" > "$D/sig-ec.chain.in"
cat "$D/sig-rsa.crt" "$D/inter.pem" "$D/root.pem" > "$D/sig-rsa.chain.in"

# --- import-chain ---
for label in sig-ec sig-rsa; do
	if "$ADMIN" key import-chain "${H[@]}" --key "$label" --chain "$D/$label.chain.in" -o "$D/$label.chain.pem" >"$D/out" 2>"$D/err" &&
	   openssl verify -CAfile "$D/root.pem" -untrusted "$D/inter.pem" "$D/$label.chain.pem" >/dev/null 2>&1 &&
	   [ "$(grep -c BEGIN "$D/$label.chain.pem")" = 3 ] && grep -q "chain of 3 certificates" "$D/out"; then
		ok "key import-chain $label installs the chain"
	else
		fail "key import-chain $label" "$D/err"
	fi
done
[ "$(stat -c %a "$D/sig-ec.chain.pem")" = 644 ] && ok "the installed chain is mode 644" || fail "chain file mode"
echo "old" > "$D/keep.pem"
expect_fail "key import-chain refuses a chain for another key" "not for the HSM key" "$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/sig-rsa.chain.in" -o "$D/keep.pem"
[ "$(cat "$D/keep.pem")" = old ] && ok "a refused chain leaves the destination alone" || fail "destination changed by a refused import"
cat "$D/sig-ec.crt" "$D/root.pem" "$D/inter.pem" > "$D/swapped.in"
expect_fail "key import-chain refuses a chain out of order" "not the issuer" "$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/swapped.in" -o "$D/keep.pem"
cat "$D/inter.pem" "$D/sig-ec.crt" > "$D/leaf-second.in"
expect_fail "key import-chain refuses a chain whose leaf is not first" "not for the HSM key" "$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/leaf-second.in" -o "$D/keep.pem"
issue "$D/sig-ec.csr" "$D/noku.crt" leaf_noku
cat "$D/noku.crt" "$D/inter.pem" > "$D/noku.in"
expect_fail "key import-chain refuses a leaf without digitalSignature" "digitalSignature" "$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/noku.in" -o "$D/keep.pem"
printf -- '-----BEGIN CERTIFICATE-----\nnotbase64\n-----END CERTIFICATE-----\n' > "$D/junk.in"
expect_fail "key import-chain refuses a corrupt PEM file" "corrupt" "$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/junk.in" -o "$D/keep.pem"
for i in $(seq 9); do cat "$D/sig-ec.crt"; done > "$D/nine.in"
expect_fail "key import-chain refuses more than 8 certificates" "not 1 to 8" "$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/nine.in" -o "$D/keep.pem"
expect_usage "key import-chain without -o and without a configuration" "$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/sig-ec.chain.in"
[ "$(cat "$D/keep.pem")" = old ] && ok "refused imports never touched the destination" || fail "destination changed"
if "$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/sig-ec.chain.in" -o "$D/sig-ec.chain.pem" --store-cert >/dev/null 2>"$D/err" &&
   p11 --list-objects --type cert > "$D/certs" && grep -q "label: *sig-ec" "$D/certs" && grep -q "ID: *01" "$D/certs"; then
	ok "key import-chain --store-cert stores the leaf with the key's label and id"
else
	fail "key import-chain --store-cert" "$D/err"
fi
"$ADMIN" key import-chain "${H[@]}" --key sig-ec --chain "$D/sig-ec.chain.in" -o "$D/sig-ec.chain.pem" --store-cert >/dev/null 2>&1
[ "$(p11 --list-objects --type cert | grep -c 'label: *sig-ec')" = 1 ] && ok "--store-cert replaces the old leaf" || fail "--store-cert left two leaves"

# --- with a configuration: key names, default destination, list ---
cat > "$D/agent.json" <<JSON
{"name": "t", "redis": "unix://$D/redis.sock",
 "pkcs11": {"module": "$MODULE", "token": "$TOKEN", "pin_file": "$D/pin", "sessions": 1},
 "attestation_key": "pkcs11:object=attest",
 "store": "file://$D/store", "audit_log": "$D/audit.log",
 "keys": {"release": {"key": "pkcs11:object=sig-ec", "mechanism": "ecdsa-sha256", "certificates": "$D/conf-release.pem", "formats": ["raw"]},
          "release-rsa": {"key": "pkcs11:id=%02", "mechanism": "rsa-pss-sha256", "certificates": "$D/conf-rsa.pem", "formats": ["raw"]},
          "ghost": {"key": "pkcs11:object=ghost", "mechanism": "ecdsa-sha256", "certificates": "$D/ghost.pem", "formats": ["raw"]}},
 "submitters": {}}
JSON
if "$ADMIN" key import-chain -c "$D/agent.json" --key release --chain "$D/sig-ec.chain.in" >/dev/null 2>"$D/err" &&
   cmp -s "$D/conf-release.pem" "$D/sig-ec.chain.pem"; then
	ok "key import-chain -c: the configured key's certificates file by default"
else
	fail "key import-chain -c" "$D/err"
fi
if "$ADMIN" key list -c "$D/agent.json" > "$D/list" 2>"$D/err"; then ok "key list -c exits 0"; else fail "key list -c" "$D/err"; fi
na=$(openssl x509 -in "$D/sig-ec.crt" -noout -enddate | cut -d= -f2)
na_rfc=$(date -u -d "$na" +%Y-%m-%dT%H:%M:%SZ)
if grep -q "^key label=sig-ec id=01 type=ec-p256 sensitive=yes extractable=no always_sensitive=yes never_extractable=yes sign=yes" "$D/list" &&
   grep -q "^key label=sig-rsa id=02 type=rsa-3072 " "$D/list" &&
   grep -q "config key release (ecdsa-sha256)" "$D/list" &&
   grep -qF "certificate: subject=/O=signet test/OU=a\\/b/CN=sig-ec not_after=$na_rfc chain=3" "$D/list" &&
   grep -q "config attestation_key" "$D/list" &&
   grep -q "config key ghost: no single private key" "$D/list" &&
   grep -q "^key label=loose .*extractable=yes" "$D/list" && grep -q "WARNING: the agent refuses this key" "$D/list"; then
	ok "key list: labels, ids, types, flags, subjects and expiry"
else
	fail "key list output" "$D/list"
fi
if grep -A2 "config key release-rsa" "$D/list" | grep -q "certificate: .*No such\|not found"; then
	ok "key list: a missing chain file is reported"
else
	fail "key list: missing chain file" "$D/list"
fi
if "$ADMIN" key export -c "$D/agent.json" --key release-rsa 2>/dev/null | cmp -s - "$D/sig-rsa.tool.pem"; then ok "key export -c by configured key name"; else fail "key export by configured name"; fi
if "$ADMIN" key csr -c "$D/agent.json" --key release-rsa --subject "/CN=r" 2>/dev/null | openssl req -verify -noout 2>&1 | grep -q "verify OK"; then ok "key csr -c by configured key name"; else fail "key csr by configured name"; fi
if "$ADMIN" policy check "$D/agent.json" >/dev/null 2>&1; then fail "policy check accepted a configuration with missing files"; else ok "policy check still reports problems"; fi
if "$ADMIN" --help | grep -q "key import-chain"; then ok "--help documents the key commands"; else fail "--help"; fi

# --- the stack's token, built with signet-admin, passes signet-agent --check ---
STACK_DIR=$D/stack
mkdir -p "$STACK_DIR"
STACK_QUIET=1
# shellcheck source=../../scripts/stack.sh
# (--check reaches Redis too: the stack's, stopped again on the way out.)
( . "$SRC/scripts/stack.sh" && trap stack_cleanup EXIT && stack_redis_start && stack_token_init &&
  stack_submitter ci-fw ec && stack_config &&
  for f in release release-rsa attest; do [ -s "$STACK_DIR/$f.pub.pem" ] || exit 1; done &&
  cmp -s "$STACK_DIR/attest.pub.pem" "$STACK_DIR/agent.pub" &&
  "$SIGNET_BUILD/agent/signet-agent" -c "$STACK_DIR/agent.json" --check ) >"$D/stack.out" 2>&1
stack_rc=$?
if [ "$stack_rc" = 0 ]; then ok "stack_token_init (signet-admin) makes a token that signet-agent --check accepts"; else fail "stack_token_init" "$D/stack.out"; fi

summary "admin: "
