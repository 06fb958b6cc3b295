#!/bin/sh
# Regenerates the fixtures of fuzz/fuzz_tsa_reply.c: a throwaway TSA PKI
# made by tests/tsa_server.py --init (only its root is kept), one
# TimeStampReq of the kind tsa_timestamp() sends (version 1, a SHA-256
# imprint, a 64-bit nonce, certReq), the local time the replies were made
# at, and the fuzzer's seeds (fuzz/corpus/tsa_reply/): replies to that
# query made by `openssl ts -reply`, good ones in several shapes and a few
# that tsa_reply_check() must refuse.  The TSA keys are deleted.
set -eu
cd "$(dirname "$0")"
corpus=../../../fuzz/corpus/tsa_reply
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 ../../tsa_server.py --dir "$work/pki" --init
cp "$work/pki/tsa-root.pem" root.pem
printf 'a signature value to time-stamp' > "$work/sigval"
openssl ts -query -data "$work/sigval" -sha256 -cert -out query.tsq
printf 'another signature value' > "$work/other"
openssl ts -query -data "$work/other" -sha256 -cert -out "$work/other.tsq"
# The replies' genTime is within seconds of this; fuzz_tsa_reply checks
# them at this time (the clock skew allowed is TSA_CLOCK_SKEW_MAX_S).
date +%s > now

# reply OUT SIGNER QUERY [SETTING=VALUE ...] [-- ARGS of openssl ts -reply]
reply() {
	out=$1 signer=$2 query=$3
	shift 3
	cp "$work/pki/tsa.cnf" "$work/tsa.cnf"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		sed -i "s/^${1%%=*} = .*/${1%%=*} = ${1#*=}/" "$work/tsa.cnf"
		shift
	done
	[ $# -gt 0 ] && shift
	od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$work/serial"
	echo >> "$work/serial"
	# openssl ts -reply reports the settings it does not find as errors:
	# its output is shown only when it fails.
	if ! TSA_SERIAL=$work/serial openssl ts -reply -queryfile "$query" \
		-config "$work/tsa.cnf" -inkey "$work/pki/$signer.key" \
		-signer "$work/pki/$signer.pem" -out "$out" "$@" 2>"$work/err"; then
		cat "$work/err" >&2
		exit 1
	fi
}

mkdir -p "$corpus"
reply "$corpus/good" tsa query.tsq
reply "$corpus/good-sha384" tsa query.tsq signer_digest=sha384
reply "$corpus/good-ess-v1" tsa query.tsq ess_cert_id_alg=sha1
reply "$corpus/good-name-chain" tsa query.tsq tsa_name=yes ordering=yes -- \
	-chain "$work/pki/tsa-root.pem"
reply "$corpus/untrusted" untrusted query.tsq
reply "$corpus/other-query" tsa "$work/other.tsq"
python3 -c 'import sys; sys.path.insert(0, "../.."); import tsa_server
sys.stdout.buffer.write(tsa_server.rejection())' > "$corpus/rejection"
{ cat "$corpus/good"; printf '\0'; } > "$corpus/trailing-byte"
head -c 200 "$corpus/good" > "$corpus/truncated"
