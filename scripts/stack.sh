# shellcheck shell=bash
# stack.sh — a throwaway local signet stack, for the demo and the tests.
#
# Source it, set STACK_DIR (an empty directory) and SIGNET_BUILD (the meson
# build directory), then call, in order:
#   stack_redis_start     redis-server on a unix socket in $STACK_DIR
#                         (and a TLS port after stack_redis_tls PORT)
#   stack_token_init      SoftHSM token with signing and attestation keys,
#                         a root CA and a certificate for each signing key
#   stack_submitter NAME [ec|ed25519|rsa]   a submitter key pair
#   stack_config          $STACK_DIR/agent.json
#   stack_agent_start     signet-agent in the background
#   stack_cleanup         stops everything (install it as an EXIT trap)
#
# Keys in the token (PKCS#11 id, label, type):
#   01 release      EC P-256   mechanism ecdsa-sha256
#   02 release-rsa  RSA-3072   mechanism rsa-pss-sha256
#   03 release-pk1  RSA-3072   mechanism rsa-pkcs1-sha256 (same key type)
#   10 attest       EC P-256   the agent's attestation key
# Everything stays inside $STACK_DIR; nothing is installed or started
# system-wide.

: "${STACK_DIR:?set STACK_DIR}"
: "${SIGNET_BUILD:?set SIGNET_BUILD}"
P11_MODULE=${P11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
STACK_TOKEN=signet-test
STACK_PIN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
STACK_SOPIN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
REDIS_SOCK=$STACK_DIR/redis.sock
SIGNET_REDIS=unix://$REDIS_SOCK
export SOFTHSM2_CONF=$STACK_DIR/softhsm2.conf
STACK_SUBMITTERS=""

stack_log() { [ -n "${STACK_QUIET:-}" ] || printf '  %s\n' "$*"; }

STACK_REDIS_TLS=()

# stack_redis_tls PORT: redis-server (started next) also listens for TLS on
# 127.0.0.1:PORT, with a certificate for localhost and 127.0.0.1 from a CA
# made here ($STACK_DIR/redis-tls/ca.pem).  Sets SIGNET_REDIS to
# rediss://localhost:PORT, exports SIGNET_REDIS_CA_FILE for the clients and
# sets STACK_REDIS_TLS_MEMBER, the agent's "redis_tls" member (for
# STACK_EXTRA).
stack_redis_tls() {
	local t=$STACK_DIR/redis-tls
	mkdir -p "$t"
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$t/server.ext"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/ca.key" \
		-subj "/CN=signet test redis CA" -days 30 -out "$t/ca.pem" 2>/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/server.key" \
		-subj "/CN=localhost" -out "$t/server.csr" 2>/dev/null &&
	openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
		-days 30 -extfile "$t/server.ext" -out "$t/server.crt" 2>/dev/null ||
		{ echo "redis TLS certificates: openssl failed" >&2; return 1; }
	STACK_REDIS_TLS=(--tls-port "$1" --bind 127.0.0.1 --tls-cert-file "$t/server.crt"
		--tls-key-file "$t/server.key" --tls-ca-cert-file "$t/ca.pem" --tls-auth-clients no)
	SIGNET_REDIS=rediss://localhost:$1
	export SIGNET_REDIS_CA_FILE=$t/ca.pem
	STACK_REDIS_TLS_MEMBER="\"redis_tls\": {\"ca_file\": \"$t/ca.pem\"},"
}

stack_redis_start() {
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm "${STACK_REDIS_PERM:-700}" \
		--save '' --appendonly no --dir "$STACK_DIR" --daemonize yes \
		--pidfile "$STACK_DIR/redis.pid" --logfile "$STACK_DIR/redis.log" "${STACK_REDIS_TLS[@]}" >/dev/null
	for _ in $(seq 1 100); do
		redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1 && { stack_log "redis-server on $REDIS_SOCK"; return 0; }
		sleep 0.05
	done
	echo "redis-server did not start" >&2
	return 1
}

p11() { pkcs11-tool --module "$P11_MODULE" --token-label "$STACK_TOKEN" "$@"; }

# p11_keygen ID LABEL KEYTYPE: a key pair generated inside the token by
# signet-admin (the private half sensitive, never extractable, sign only);
# its public key as PEM (LABEL.pub.pem) and DER (LABEL.pub.der).  KEYTYPE is
# signet-admin's --type: ec-p256 or rsa-3072.
p11_keygen() {
	"$SIGNET_BUILD/admin/signet-admin" key generate --module "$P11_MODULE" --token "$STACK_TOKEN" \
		--pin-file "$STACK_DIR/pin" --label "$2" --type "$3" --id "$1" \
		-o "$STACK_DIR/$2.pub.pem" 2>"$STACK_DIR/keygen.err" || { cat "$STACK_DIR/keygen.err" >&2; return 1; }
	openssl pkey -pubin -in "$STACK_DIR/$2.pub.pem" -outform DER -out "$STACK_DIR/$2.pub.der"
}

# leaf_cert LABEL: a code-signing certificate for the token key LABEL,
# issued by the stack's root CA; the chain file is leaf then root.
leaf_cert() {
	openssl x509 -new -subj "/O=signet test/CN=$1" -force_pubkey "$STACK_DIR/$1.pub.pem" \
		-CA "$STACK_DIR/root.pem" -CAkey "$STACK_DIR/root.key" -days 30 \
		-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
		-extfile "$STACK_DIR/ext.cnf" -extensions leaf -out "$STACK_DIR/$1.crt" 2>/dev/null || return 1
	cat "$STACK_DIR/$1.crt" "$STACK_DIR/root.pem" > "$STACK_DIR/$1.chain.pem"
}

stack_token_init() {
	mkdir -p "$STACK_DIR/tokens"
	cat > "$SOFTHSM2_CONF" <<CONF
directories.tokendir = $STACK_DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
	softhsm2-util --init-token --free --label "$STACK_TOKEN" --so-pin "$STACK_SOPIN" \
		--pin "$STACK_PIN" >/dev/null || return 1
	( umask 077; printf '%s\n' "$STACK_PIN" > "$STACK_DIR/pin" )
	p11_keygen 01 release ec-p256 &&
	p11_keygen 02 release-rsa rsa-3072 &&
	p11_keygen 10 attest ec-p256 || { echo "key generation in the token failed" >&2; return 1; }
	cat > "$STACK_DIR/ext.cnf" <<'CNF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$STACK_DIR/root.key" 2>/dev/null &&
	openssl req -new -x509 -key "$STACK_DIR/root.key" -subj "/O=signet test/CN=signet test root" \
		-days 30 -config "$STACK_DIR/ext.cnf" -extensions root -out "$STACK_DIR/root.pem" 2>/dev/null &&
	leaf_cert release && leaf_cert release-rsa || { echo "certificate creation failed" >&2; return 1; }
	cp "$STACK_DIR/attest.pub.pem" "$STACK_DIR/agent.pub"
	stack_log "SoftHSM token '$STACK_TOKEN' in $STACK_DIR/tokens: keys release (EC P-256), release-rsa (RSA-3072), attest (EC P-256)"
}

# stack_submitter NAME [ec|ed25519|rsa] [KEYS]: writes NAME.key and NAME.pub;
# KEYS (JSON array text) are the signing keys it may use.
stack_submitter() {
	case "${2:-ec}" in
	ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$STACK_DIR/$1.key" 2>/dev/null ;;
	ed25519) openssl genpkey -algorithm ED25519 -out "$STACK_DIR/$1.key" 2>/dev/null ;;
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$STACK_DIR/$1.key" 2>/dev/null ;;
	esac
	chmod 600 "$STACK_DIR/$1.key"
	openssl pkey -in "$STACK_DIR/$1.key" -pubout -out "$STACK_DIR/$1.pub"
	STACK_SUBMITTERS="$STACK_SUBMITTERS $1=${3:-[\"release\",\"release-rsa\",\"release-pk1\"]}"
}

stack_config() {
	mkdir -p "$STACK_DIR/store"
	{
		printf '{"name": "test-agent",\n "redis": "%s",\n' "$SIGNET_REDIS"
		printf ' "pkcs11": {"module": "%s", "token": "%s", "pin_file": "%s", "sessions": 2},\n' \
			"$P11_MODULE" "$STACK_TOKEN" "$STACK_DIR/pin"
		printf ' "attestation_key": "pkcs11:object=attest",\n'
		printf ' "store": "%s",\n "audit_log": "%s/audit.log",\n' "${STACK_STORE:-file://$STACK_DIR/store}" "$STACK_DIR"
		# STACK_EXTRA: more top-level members, each line ending in a comma.
		[ -z "${STACK_EXTRA:-}" ] || printf ' %s\n' "$STACK_EXTRA"
		printf ' "max_job_lifetime": %s,\n' "${STACK_MAX_LIFETIME:-900}"
		printf ' "keys": {\n'
		printf '  "release": {"key": "pkcs11:object=release", "mechanism": "ecdsa-sha256", "certificates": "%s", "formats": ["raw", "cms"]},\n' "$STACK_DIR/release.chain.pem"
		printf '  "release-rsa": {"key": "pkcs11:object=release-rsa", "mechanism": "rsa-pss-sha256", "certificates": "%s", "formats": ["raw", "cms"]},\n' "$STACK_DIR/release-rsa.chain.pem"
		printf '  "release-pk1": {"key": "pkcs11:id=%%02", "mechanism": "rsa-pkcs1-sha256", "certificates": "%s", "formats": ["raw"]}},\n' "$STACK_DIR/release-rsa.chain.pem"
		printf ' "submitters": {'
		sep=""
		for s in $STACK_SUBMITTERS; do
			printf '%s\n  "%s": {"public_key": "%s", "keys": %s}' "$sep" "${s%%=*}" "$STACK_DIR/${s%%=*}.pub" "${s#*=}"
			sep=","
		done
		printf '}}\n'
	} > "$STACK_DIR/agent.json"
}

stack_agent_start() {
	local before
	before=$(grep -c "started" "$STACK_DIR/agent.log" 2>/dev/null || true)
	"$SIGNET_BUILD/agent/signet-agent" -c "$STACK_DIR/agent.json" "$@" \
		2>>"$STACK_DIR/agent.log" &
	STACK_AGENT_PID=$!
	echo "$STACK_AGENT_PID" > "$STACK_DIR/agent.pid"
	for _ in $(seq 1 100); do
		[ "$(grep -c "started" "$STACK_DIR/agent.log" 2>/dev/null)" -gt "${before:-0}" ] && { stack_log "signet-agent running (pid $STACK_AGENT_PID)"; return 0; }
		kill -0 "$STACK_AGENT_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "signet-agent did not start:" >&2
	cat "$STACK_DIR/agent.log" >&2
	return 1
}

# stack_cpu_procs: bench/loadgen's -p options for the stack's processes
# whose CPU per job it reports (the agent, its signer processes, redis).
stack_cpu_procs() {
	local p n=0
	printf -- '-p agent=%s ' "$STACK_AGENT_PID"
	for p in $(pgrep -P "$STACK_AGENT_PID" -x signet-signer); do
		n=$((n + 1)); printf -- '-p signer%s=%s ' "$n" "$p"
	done
	printf -- '-p redis=%s ' "$(cat "$STACK_DIR/redis.pid")"
}

stack_agent_stop() {
	if [ -n "${STACK_AGENT_PID:-}" ] && kill -0 "$STACK_AGENT_PID" 2>/dev/null; then
		kill -TERM "$STACK_AGENT_PID"
		wait "$STACK_AGENT_PID" 2>/dev/null
		STACK_AGENT_STATUS=$?
		# Any other status (a sanitizer report, a crash) is kept for the tests.
		[ "$STACK_AGENT_STATUS" = 0 ] || echo "$STACK_AGENT_STATUS" >> "$STACK_DIR/agent.failures"
	fi
	STACK_AGENT_PID=""
}

stack_cleanup() {
	local rp
	stack_agent_stop
	if [ -f "$STACK_DIR/redis.pid" ]; then
		rp=$(cat "$STACK_DIR/redis.pid")
		kill "$rp" 2>/dev/null
		rm -f "$STACK_DIR/redis.pid"
		# It writes its log while it shuts down: wait, so that a caller's
		# rm -rf of $STACK_DIR does not race with it and leave redis.log.
		for _ in $(seq 1 100); do kill -0 "$rp" 2>/dev/null || break; sleep 0.05; done
	fi
}

# --- Submitter CAs and certificates (tests/integration/policy.sh) ---
#   stack_subca NAME                a CA in $STACK_DIR/NAME (ca.pem, ca.key)
#   stack_subcert CA NAME EXT [START END]
#                                   NAME.key + NAME.crt issued by CA with the
#                                   extension section EXT of the CA's config
#                                   (sub: digitalSignature + emailProtection;
#                                   sub_codesign: codeSigning only; sub_noku:
#                                   keyEncipherment only), SAN NAME@fw.example.com,
#                                   validity START..END (YYYYMMDDHHMMSSZ) if given
#   stack_subrevoke CA NAME         revokes NAME.crt and writes CA/crl.pem
#   stack_policy_config JQ [OUT]    $STACK_DIR/agent.json through jq (default
#                                   output: agent.json itself)
stack_subca() {
	local d="$STACK_DIR/$1"
	mkdir -p "$d/certs"
	: > "$d/index.txt"
	echo 1000 > "$d/serial"
	echo 1000 > "$d/crlnumber"
	cat > "$d/ca.cnf" <<CNF
[ca]
default_ca = subca
[subca]
dir = $d
database = $d/index.txt
new_certs_dir = $d/certs
serial = $d/serial
crlnumber = $d/crlnumber
certificate = $d/ca.pem
private_key = $d/ca.key
default_md = sha256
default_days = 30
default_crl_days = 30
policy = pol
unique_subject = no
email_in_dn = no
[pol]
commonName = supplied
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[sub]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:\${ENV::SUB_EMAIL}
[sub_codesign]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:\${ENV::SUB_EMAIL}
[sub_noku]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:\${ENV::SUB_EMAIL}
CNF
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/ca.key" 2>/dev/null &&
	SUB_EMAIL=x openssl req -new -x509 -key "$d/ca.key" -subj "/O=signet test/CN=$1" -days 30 \
		-config "$d/ca.cnf" -extensions root -out "$d/ca.pem" 2>/dev/null
}

stack_subcert() {
	local d="$STACK_DIR/$1"
	local dates=()
	[ -n "${4:-}" ] && dates=(-startdate "$4" -enddate "$5")
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$STACK_DIR/$2.key" 2>/dev/null &&
	chmod 600 "$STACK_DIR/$2.key" &&
	openssl req -new -key "$STACK_DIR/$2.key" -subj "/CN=$2" -out "$STACK_DIR/$2.csr" 2>/dev/null &&
	SUB_EMAIL="$2@fw.example.com" openssl ca -batch -notext -config "$d/ca.cnf" -extensions "$3" \
		"${dates[@]}" -in "$STACK_DIR/$2.csr" -out "$STACK_DIR/$2.crt" >/dev/null 2>&1
}

stack_subrevoke() {
	local d="$STACK_DIR/$1"
	SUB_EMAIL=x openssl ca -config "$d/ca.cnf" -revoke "$STACK_DIR/$2.crt" >/dev/null 2>&1 &&
	SUB_EMAIL=x openssl ca -config "$d/ca.cnf" -gencrl -out "$d/crl.pem" >/dev/null 2>&1
}

stack_policy_config() {
	jq "$1" "$STACK_DIR/agent.json" > "$STACK_DIR/agent.json.new" &&
	mv "$STACK_DIR/agent.json.new" "${2:-$STACK_DIR/agent.json}"
}
