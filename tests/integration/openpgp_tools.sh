#!/bin/bash
# OpenPGP signatures made by the agent (docs/openpgp.md), checked by the
# tools that consume them in practice, with certificates exported by
# `signet-admin openpgp export`:
#   RPM: a noarch package built here with rpmbuild, signed by rpmsign
#     (rpm 4.18) through signet-gpg, with rpm's own %__gpg_sign_cmd, once
#     with --define only and once with contrib/rpm/macros.signet as
#     ~/.rpmmacros; `rpmkeys -K` accepts it once the certificate is
#     imported into a database of the test's own, and refuses it without
#     the certificate, with a byte flipped in the payload and with one
#     flipped in the signed header; an ECDSA key is refused by rpmsign.
#   APT: a repository (dists/stable/main/binary-ARCH, pool/) made with
#     dpkg-deb and apt-ftparchive, Release cleartext-signed into InRelease
#     (submit-job --clearsign) and detached into Release.gpg (--armor);
#     `apt-get update` with a throwaway state and Signed-By the exported
#     certificate (armored .asc and binary .gpg) succeeds without a
#     signature warning and sees the package; a tampered InRelease, or
#     Release.gpg alone over a changed Release, makes it fail; the
#     system's own APT state is untouched.
#   gpgv and sqv verify InRelease and Release.gpg; signet-gpg refuses
#     options it does not implement (exit 2, nothing submitted).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
NEED_TOOLS_HINT="sh scripts/deps.sh installs them"
stack_init openpgp_tools rpm rpmbuild rpmsign rpmkeys dpkg-deb apt-get apt-cache apt-ftparchive \
	gzip gpg gpgv sqv python3
SIGNET_GPG=$SIGNET_BUILD/submitter/signet-gpg
MACROS=$SRC/contrib/rpm/macros.signet
[ -x "$SIGNET_GPG" ] || { echo "missing $SIGNET_GPG (build first)"; exit 1; }

stack_redis_start || exit 1
stack_token_init || exit 1
# Keys of their own for OpenPGP, as docs/openpgp.md advises: RSA for RPM
# (rpm 4.18 refuses ECDSA), EC P-256 for APT.
p11_keygen 21 pgp-rsa rsa-3072 && leaf_cert pgp-rsa &&
	p11_keygen 22 pgp-ec ec-p256 && leaf_cert pgp-ec || { echo "cannot make the OpenPGP keys"; exit 1; }
stack_submitter ci-pkg ec '["rpm-rsa","apt-ec","apt-ec-rpm"]'
stack_config
stack_policy_config '
  .keys["rpm-rsa"] = {"key": "pkcs11:object=pgp-rsa", "mechanism": "rsa-pkcs1-sha256",
    "certificates": "'"$D"'/pgp-rsa.chain.pem", "formats": ["openpgp"], "artifact_names": ["*.rpm"],
    "openpgp": {"created": "2026-01-01T00:00:00Z", "uid": "RPM Signing <rpm@example.com>"}}
| .keys["apt-ec"] = {"key": "pkcs11:object=pgp-ec", "mechanism": "ecdsa-sha256",
    "certificates": "'"$D"'/pgp-ec.chain.pem", "formats": ["openpgp"],
    "openpgp": {"created": "2026-01-01T00:00:00Z", "uid": "APT Signing <apt@example.com>"}}
| .keys["apt-ec-rpm"] = .keys["apt-ec"]'
if "$SIGNET_AGENT" -c "$D/agent.json" --check > "$D/check.out" 2>&1; then
	ok "signet-agent --check accepts an RSA and an EC key for openpgp"
else
	fail "--check" "$D/check.out"
fi

# The certificates, exported while the agent is stopped (the export writes
# the certification to the audit log).
mkdir -m 700 "$D/gnupg"
export GNUPGHOME=$D/gnupg
for k in rpm-rsa apt-ec; do
	if "$ADMIN" openpgp export -c "$D/agent.json" "$k" -o "$D/$k.asc" > "$D/export.out" 2>&1 &&
		"$ADMIN" openpgp export -c "$D/agent.json" "$k" --binary -o "$D/$k.gpg" >> "$D/export.out" 2>&1 &&
		gpg --batch --with-colons --show-keys "$D/$k.asc" > "$D/$k.keys" 2>&1 &&
		gpg --batch --with-colons --show-keys "$D/$k.gpg" > "$D/$k.keys2" 2>&1 &&
		grep -q '^uid:' "$D/$k.keys" &&
		diff <(grep '^fpr\|^uid' "$D/$k.keys") <(grep '^fpr\|^uid' "$D/$k.keys2") > /dev/null; then
		ok "signet-admin openpgp export $k (armored and --binary): $(awk -F: '$1 == "pub" {print "algorithm " $4 " (" $3 " bits)"} $1 == "fpr" {print "fingerprint " $10} $1 == "uid" {print "uid " $10}' "$D/$k.keys" | paste -sd, | sed 's/,/, /g')"
	else
		fail "signet-admin openpgp export $k" "$D/export.out"
	fi
done
# Without the certificates nothing below can verify anything.
[ -s "$D/rpm-rsa.gpg" ] && [ -s "$D/apt-ec.gpg" ] || { summary "openpgp_tools: "; exit 1; }
RPM_FPR=$(awk -F: '$1 == "fpr" {print $10; exit}' "$D/rpm-rsa.keys")
RPM_KEYID=$(printf '%s' "$RPM_FPR" | tail -c 16 | tr 'A-F' 'a-f') # as rpm -qi prints it
RPM_SHORTID=$(printf '%s' "$RPM_KEYID" | tail -c 8)              # as rpm -K and gpg-pubkey do
stack_agent_start || exit 1

export SIGNET_REDIS SIGNET_IDENTITY=$D/ci-pkg.key SIGNET_AGENT_PUBKEY=$D/agent.pub SIGNET_SUBMIT_JOB=$SUBMIT_JOB
sj() { "$SUBMIT_JOB" -w 60 "$@"; }

# --- RPM ---------------------------------------------------------------------
# HOME in $D: ~/.rpmmacros is the test's, and rpm keeps nothing of ours.
export HOME=$D/home
mkdir -p "$HOME" "$D/rpmbuild/SPECS"
cat > "$D/rpmbuild/SPECS/signet-hello.spec" <<'SPEC'
Name: signet-hello
Version: 1.0
Release: 1
Summary: A tiny package signed through signet
License: ISC
BuildArch: noarch

%description
A tiny package for signet's integration tests.

%install
mkdir -p %{buildroot}/usr/share/signet-hello
echo "hello from signet" > %{buildroot}/usr/share/signet-hello/hello.txt

%files
/usr/share/signet-hello/hello.txt
SPEC
if rpmbuild --quiet --define "_topdir $D/rpmbuild" -bb "$D/rpmbuild/SPECS/signet-hello.spec" > "$D/rpmbuild.out" 2>&1 &&
	cp "$D/rpmbuild/RPMS/noarch/signet-hello-1.0-1.noarch.rpm" "$D/unsigned.rpm"; then
	ok "rpmbuild: signet-hello-1.0-1.noarch.rpm ($(stat -c %s "$D/unsigned.rpm") bytes)"
else
	fail "rpmbuild" "$D/rpmbuild.out"
	summary
	exit 1
fi
RPMDB=$D/rpmdb
mkdir -p "$RPMDB"
rpmkeys --dbpath "$RPMDB" --import "$D/rpm-rsa.asc" > "$D/import.out" 2>&1 &&
	rpm --dbpath "$RPMDB" -q gpg-pubkey --qf '%{NAME}-%{VERSION}-%{RELEASE} %{SUMMARY}\n' > "$D/pubkeys" 2>&1
if grep -q "^gpg-pubkey-$RPM_SHORTID-" "$D/pubkeys" &&
	grep -q 'RPM Signing <rpm@example.com> public key' "$D/pubkeys"; then
	ok "rpmkeys --dbpath DB --import rpm-rsa.asc: $(head -1 "$D/pubkeys")"
else
	fail "rpmkeys --import" "$D/import.out"
	cat "$D/pubkeys"
fi

# rpmsign with rpm's own %__gpg_sign_cmd; only %__gpg and the key's name are ours.
grep -A6 '^%__gpg_sign_cmd' /usr/lib/rpm/macros | tr -s '\t\\\n' ' ' | sed 's/^%__gpg_sign_cmd //; s/ $//' > "$D/sign_cmd"
cp "$D/unsigned.rpm" "$D/define.rpm"
t0=$(date +%s%N)
if rpmsign --define "__gpg $SIGNET_GPG" --define "_gpg_name rpm-rsa" --addsign "$D/define.rpm" \
	< /dev/null > "$D/rpmsign1.out" 2>&1; then
	ok "rpmsign --define '__gpg signet-gpg' --define '_gpg_name rpm-rsa' --addsign in $((($(date +%s%N) - t0) / 1000000)) ms (rpm's %__gpg_sign_cmd: $(cat "$D/sign_cmd"))"
else
	fail "rpmsign --define" "$D/rpmsign1.out"
fi
# The same through contrib/rpm/macros.signet as ~/.rpmmacros, its signet-gpg
# path pointed at the build, the key named by %_openpgp_sign_id alone.
sed "s|^%__gpg[[:space:]].*|%__gpg $SIGNET_GPG|" "$MACROS" > "$HOME/.rpmmacros"
cp "$D/unsigned.rpm" "$D/macros.rpm"
if [ "$(rpm --define '_openpgp_sign_id rpm-rsa' --eval '%{__gpg} %{_gpg_name} %{_gpg_digest_algo}')" = "$SIGNET_GPG rpm-rsa sha256" ] &&
	rpmsign --define "_openpgp_sign_id rpm-rsa" --addsign "$D/macros.rpm" < /dev/null > "$D/rpmsign2.out" 2>&1; then
	ok "rpmsign with macros.signet in ~/.rpmmacros and --define '_openpgp_sign_id rpm-rsa' (%_gpg_name follows it, --digest-algo=sha256)"
else
	fail "rpmsign with macros.signet" "$D/rpmsign2.out"
fi
rm -f "$HOME/.rpmmacros"
# The one-command form: --load the file, then --define (later wins).
cp "$D/unsigned.rpm" "$D/load.rpm"
if rpmsign --load "$MACROS" --define "__gpg $SIGNET_GPG" --define "_openpgp_sign_id rpm-rsa" \
	--addsign "$D/load.rpm" < /dev/null > "$D/rpmsign3.out" 2>&1; then
	ok "rpmsign --load macros.signet --define '_openpgp_sign_id rpm-rsa' --addsign"
else
	fail "rpmsign --load macros.signet" "$D/rpmsign3.out"
fi
# --rpmv3: also the header+payload signature of rpm < 4.14, so two calls of
# signet-gpg, the second with the whole header and payload on standard input.
cp "$D/unsigned.rpm" "$D/v3.rpm"
if rpmsign --define "__gpg $SIGNET_GPG" --define "_gpg_name rpm-rsa" --rpmv3 --addsign "$D/v3.rpm" \
	< /dev/null > "$D/rpmsign4.out" 2>&1 &&
	rpmkeys --dbpath "$RPMDB" -Kv "$D/v3.rpm" > "$D/kv3.out" 2>&1 &&
	[ "$(grep -c "V4 RSA/SHA256 Signature, key ID $RPM_SHORTID: OK" "$D/kv3.out")" = 2 ]; then
	ok "rpmsign --rpmv3: $(grep -c ' artifact v3\.rpm .*: signed$' "$D/agent.log") jobs; rpmkeys -Kv: $(grep "Signature, key ID" "$D/kv3.out" | sed 's/^ *//' | paste -sd';' | sed 's/;/; /g')"
else
	fail "rpmsign --rpmv3" "$D/kv3.out"
	cat "$D/rpmsign4.out"
fi
for p in define macros load; do
	rpmkeys --dbpath "$RPMDB" -K "$D/$p.rpm" > "$D/k-$p.out" 2>&1
	r=$?
	rpmkeys --dbpath "$RPMDB" -Kv "$D/$p.rpm" > "$D/kv-$p.out" 2>&1
	if [ "$r" = 0 ] && grep -qx "$D/$p.rpm: digests signatures OK" "$D/k-$p.out" &&
		grep -q "Header V4 RSA/SHA256 Signature, key ID $RPM_SHORTID: OK" "$D/kv-$p.out"; then
		ok "rpmkeys -K $p.rpm: \"$(sed "s|^$D/||" "$D/k-$p.out")\"; -Kv: \"$(grep -m1 'Signature, key ID' "$D/kv-$p.out" | sed 's/^ *//')\""
	else
		fail "rpmkeys -K $p.rpm (exit $r)" "$D/kv-$p.out"
	fi
done
# The artifact name was the package's (the key allows only *.rpm): the agent's log.
if grep -q 'key rpm-rsa artifact define\.rpm .*: signed$' "$D/agent.log"; then
	ok "the job's artifact name is the package's, which the key's artifact_names [\"*.rpm\"] allow: \"$(grep -m1 -o 'key rpm-rsa artifact define\.rpm sha256 [0-9a-f]\{8\}' "$D/agent.log")...: signed\""
else
	fail "artifact name in the agent's log" "$D/agent.log"
fi
if rpm -qp --qf '%{RSAHEADER:pgpsig}\n' "$D/define.rpm" > "$D/qf.out" 2>/dev/null &&
	grep -q "^RSA/SHA256, .*Key ID $RPM_KEYID$" "$D/qf.out"; then
	ok "rpm -qp --qf '%{RSAHEADER:pgpsig}': $(cat "$D/qf.out")"
else
	fail "RSAHEADER" "$D/qf.out"
fi
# Refusals: no certificate; a byte flipped in the payload; one in the header.
mkdir -p "$D/emptydb"
rpmkeys --dbpath "$D/emptydb" -K "$D/define.rpm" > "$D/nokey.out" 2>&1
r=$?
if [ "$r" != 0 ] && grep -q 'NOKEY\|NOT OK' "$D/nokey.out"; then
	ok "without the certificate: exit $r, \"$(sed "s|^$D/||" "$D/nokey.out" | head -1)\""
else
	fail "rpmkeys -K without the key (exit $r)" "$D/nokey.out"
fi
flip() { # FILE OFFSET OUT: OUT is FILE with the byte at OFFSET inverted.
	python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[2])] ^= 0xff
open(sys.argv[3], "wb").write(b)' "$@"
}
size=$(stat -c %s "$D/define.rpm")
flip "$D/define.rpm" $((size - 20)) "$D/payload.rpm"
rpmkeys --dbpath "$RPMDB" -K "$D/payload.rpm" > "$D/payload.out" 2>&1
r=$?
rpmkeys --dbpath "$RPMDB" -Kv "$D/payload.rpm" > "$D/payload.v" 2>&1
# The header signature still holds; the payload digest that it covers does not.
if [ "$r" != 0 ] && grep -q 'NOT OK' "$D/payload.out" && grep -q 'Payload SHA256 digest: BAD' "$D/payload.v"; then
	ok "a byte flipped in the payload: exit $r, \"$(sed "s|^$D/||" "$D/payload.out" | head -1)\" (-Kv: \"Payload SHA256 digest: BAD\")"
else
	fail "tampered payload accepted (exit $r)" "$D/payload.out"
fi
# In the header: the offset of the Summary's text, which the signature covers.
off=$(grep -abo 'A tiny package signed through signet' "$D/define.rpm" | head -1 | cut -d: -f1)
flip "$D/define.rpm" "$((off + 2))" "$D/header.rpm"
rpmkeys --dbpath "$RPMDB" -K "$D/header.rpm" > "$D/header.out" 2>&1
r=$?
rpmkeys --dbpath "$RPMDB" -Kv "$D/header.rpm" > "$D/header.v" 2>&1
if [ -n "$off" ] && [ "$r" != 0 ] && grep -q 'SIGNATURES NOT OK' "$D/header.out" &&
	grep -q "Header V4 RSA/SHA256 Signature, key ID $RPM_SHORTID: BAD" "$D/header.v"; then
	ok "a byte flipped in the signed header: exit $r, \"$(sed "s|^$D/||" "$D/header.out" | head -1)\" (-Kv: \"$(grep -m1 'Signature, key ID' "$D/header.v" | sed 's/^ *//')\")"
else
	fail "tampered header accepted (exit $r)" "$D/header.out"
fi
# An ECDSA key: the agent signs, rpm 4.18 cannot parse the signature.
cp "$D/unsigned.rpm" "$D/ec.rpm"
rpmsign --define "__gpg $SIGNET_GPG" --define "_gpg_name apt-ec-rpm" --addsign "$D/ec.rpm" \
	< /dev/null > "$D/rpmsign-ec.out" 2>&1
r=$?
if [ "$r" != 0 ] && grep -q 'Unsupported PGP' "$D/rpmsign-ec.out" &&
	cmp -s "$D/ec.rpm" "$D/unsigned.rpm" && ! [ -e "$D/ec.rpm.sig" ]; then
	ok "an ECDSA key: rpmsign exit $r, \"$(grep -m1 'Unsupported' "$D/rpmsign-ec.out")\", the package untouched"
else
	fail "rpmsign with an ECDSA key (exit $r)" "$D/rpmsign-ec.out"
fi

# --- signet-gpg's own checks ---------------------------------------------------
# njobs: how many the agent has logged (signet-gpg would wait for its job).
njobs() { grep -c ' submitter ci-pkg ' "$D/agent.log"; }
jobs_before=$(njobs)
bad=""
for opt in --clearsign --encrypt "--passphrase=hunter2" -c --default-key; do
	"$SIGNET_GPG" -u apt-ec -b "$opt" "$D/unsigned.rpm" > "$D/refuse.out" 2>&1
	r=$?
	name=${opt%%=*}
	if [ "$r" != 2 ] || ! grep -q "unsupported option $name" "$D/refuse.out" || grep -q hunter2 "$D/refuse.out"; then
		bad="$bad $opt($r)"
	fi
	[ "$opt" = --encrypt ] && cp "$D/refuse.out" "$D/refuse-encrypt.out"
done
if [ -z "$bad" ] && [ "$(njobs)" = "$jobs_before" ]; then
	ok "signet-gpg refuses --clearsign, --encrypt, --passphrase=VALUE (value not echoed), -c, --default-key: exit 2, nothing submitted: \"$(head -1 "$D/refuse-encrypt.out")\""
else
	fail "signet-gpg refusals:$bad" "$D/refuse.out"
fi
"$SIGNET_GPG" -u apt-ec -s "$D/unsigned.rpm" > "$D/inline.out" 2>&1
r1=$?
"$SIGNET_GPG" -u apt-ec -b --digest-algo SHA1 "$D/unsigned.rpm" > "$D/sha1.out" 2>&1
r2=$?
if [ "$r1" = 2 ] && [ "$r2" = 2 ] && grep -q 'only detached signatures' "$D/inline.out" &&
	grep -q 'only SHA256' "$D/sha1.out" && [ "$(njobs)" = "$jobs_before" ] && ! [ -e "$D/unsigned.rpm.sig" ]; then
	ok "signet-gpg: -s without -b and --digest-algo SHA1 are exit 2, nothing submitted or written"
else
	fail "signet-gpg -s / SHA1 ($r1, $r2)" "$D/inline.out"
fi

# --- APT -----------------------------------------------------------------------
ARCH=$(dpkg --print-architecture)
R=$D/repo
mkdir -p "$D/deb/DEBIAN" "$D/deb/usr/share/signet-hello" "$R/pool/main" "$R/dists/stable/main/binary-$ARCH"
echo "hello from signet" > "$D/deb/usr/share/signet-hello/hello.txt"
cat > "$D/deb/DEBIAN/control" <<CTL
Package: signet-hello
Version: 1.0
Architecture: all
Maintainer: signet tests <tests@example.com>
Description: A tiny package signed through signet
 For signet's integration tests.
CTL
dpkg-deb --root-owner-group --build "$D/deb" "$R/pool/main/signet-hello_1.0_all.deb" > "$D/dpkg-deb.out" 2>&1 ||
	fail "dpkg-deb --build" "$D/dpkg-deb.out"
# make_release: Packages, Packages.gz and Release for the repository as it is.
make_release() {
	(cd "$R" && apt-ftparchive packages pool > "dists/stable/main/binary-$ARCH/Packages") &&
		gzip -9nkf "$R/dists/stable/main/binary-$ARCH/Packages" &&
		(cd "$R/dists/stable" && apt-ftparchive -o APT::FTPArchive::Release::Origin=signet-test \
			-o APT::FTPArchive::Release::Suite=stable -o APT::FTPArchive::Release::Codename=stable \
			-o APT::FTPArchive::Release::Architectures="$ARCH" -o APT::FTPArchive::Release::Components=main \
			release . > "$D/Release") && mv "$D/Release" "$R/dists/stable/Release"
}
if make_release > "$D/ftparchive.out" 2>&1 &&
	sj -k apt-ec -f openpgp --clearsign -o "$R/dists/stable/InRelease" "$R/dists/stable/Release" > "$D/inrel.out" 2>&1 &&
	sj -k apt-ec -f openpgp --armor -o "$R/dists/stable/Release.gpg" "$R/dists/stable/Release" > "$D/relgpg.out" 2>&1; then
	ok "Release ($(wc -l < "$R/dists/stable/Release") lines) signed: InRelease (--clearsign) and Release.gpg (--armor)"
else
	fail "repository signing" "$D/inrel.out"
	cat "$D/ftparchive.out" "$D/relgpg.out"
fi

# gpgv and sqv, with the exported certificate as their keyring.
if gpgv --keyring "$D/apt-ec.gpg" "$R/dists/stable/InRelease" > "$D/gpgv.out" 2>&1 &&
	grep -q '^gpgv: Good signature from "APT Signing <apt@example.com>"' "$D/gpgv.out"; then
	ok "gpgv --keyring apt-ec.gpg InRelease: $(grep -m1 'Good signature' "$D/gpgv.out")"
else
	fail "gpgv InRelease" "$D/gpgv.out"
fi
if gpgv --keyring "$D/apt-ec.gpg" "$R/dists/stable/Release.gpg" "$R/dists/stable/Release" > "$D/gpgv2.out" 2>&1 &&
	grep -q 'Good signature' "$D/gpgv2.out"; then
	ok "gpgv --keyring apt-ec.gpg Release.gpg Release: $(grep -m1 'Good signature' "$D/gpgv2.out")"
else
	fail "gpgv Release.gpg" "$D/gpgv2.out"
fi
APT_FPR=$(awk -F: '$1 == "fpr" {print $10; exit}' "$D/apt-ec.keys")
if sqv --keyring "$D/apt-ec.asc" "$R/dists/stable/Release.gpg" "$R/dists/stable/Release" > "$D/sqv.out" 2>&1 &&
	grep -qx "$APT_FPR" "$D/sqv.out"; then
	ok "sqv --keyring apt-ec.asc Release.gpg Release: $(cat "$D/sqv.out")"
else
	fail "sqv Release.gpg" "$D/sqv.out"
fi
# signet-gpg from standard input to standard output, checked by sqv.
if "$SIGNET_GPG" --batch -u apt-ec -ab < "$R/dists/stable/Release" > "$D/stdout.asc" 2>"$D/stdout.err" &&
	sqv --keyring "$D/apt-ec.gpg" "$D/stdout.asc" "$R/dists/stable/Release" > "$D/sqv2.out" 2>&1; then
	ok "signet-gpg -u apt-ec -ab < Release > SIG (standard input to standard output): sqv accepts it"
else
	fail "signet-gpg stdin to stdout" "$D/stdout.err"
fi

# apt-get update with a configuration of the test's own: sources, lists,
# caches, status and keyrings all in $D.
snapshot() { # the system's APT and dpkg state: names, sizes, times
	find /etc/apt /var/lib/apt /var/cache/apt /var/lib/dpkg/status /var/lib/dpkg/lock* \
		-printf '%p %s %T@ %C@\n' 2>/dev/null | sort
}
snapshot > "$D/system.before"
APT_N=0
# apt_update NAME SIGNED-BY [deb822]: apt-get update in a fresh state
# $D/apt-NAME, the source as a one-line sources.list or a deb822 .sources
# file; output in $D/NAME.out, status in $D/NAME.rc.
apt_update() {
	local a=$D/apt-$1 parts=-
	mkdir -p "$a/state/lists/partial" "$a/cache/archives/partial" "$a/etc/trusted.gpg.d" "$a/etc/preferences.d"
	: > "$a/status"
	if [ "${3:-}" = deb822 ]; then
		: > "$a/sources.list"
		parts=$a/sources.list.d
		mkdir -p "$parts"
		printf 'Types: deb\nURIs: file:%s\nSuites: stable\nComponents: main\nSigned-By: %s\n' "$R" "$2" > "$parts/test.sources"
	else
		echo "deb [signed-by=$2] file:$R stable main" > "$a/sources.list"
	fi
	APT_OPTS=(-o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts="$parts"
		-o Dir::Etc::Trusted="$a/etc/trusted.gpg" -o Dir::Etc::TrustedParts="$a/etc/trusted.gpg.d"
		-o Dir::Etc::Preferences="$a/etc/preferences" -o Dir::Etc::PreferencesParts="$a/etc/preferences.d"
		-o Dir::State="$a/state" -o Dir::State::status="$a/status" -o Dir::Cache="$a/cache"
		-o APT::Architecture="$ARCH" -o APT::Sandbox::User=root -o Debug::Acquire::gpgv=1)
	apt-get "${APT_OPTS[@]}" update > "$D/$1.out" 2>&1
	echo $? > "$D/$1.rc"
	APT_N=$((APT_N + 1))
}
for k in asc gpg deb822; do
	case $k in
	deb822) apt_update "good-$k" "$D/apt-ec.gpg" deb822; what="a deb822 .sources file, Signed-By: apt-ec.gpg" ;;
	*) apt_update "good-$k" "$D/apt-ec.$k"; what="deb [signed-by=apt-ec.$k]" ;;
	esac
	r=$(cat "$D/good-$k.rc")
	apt-cache "${APT_OPTS[@]}" policy signet-hello > "$D/policy-$k.out" 2>&1
	if [ "$r" = 0 ] && grep -q 'GOODSIG' "$D/good-$k.out" &&
		! grep -Eq 'NO_PUBKEY|not signed|BADSIG|^W:|^E:|^N:|^Err:' "$D/good-$k.out" &&
		grep -q 'Candidate: 1.0' "$D/policy-$k.out"; then
		ok "apt-get update, $what: exit 0, \"$(grep -m1 "^Get:.*InRelease" "$D/good-$k.out" | sed "s|$D|\$D|g")\", gpgv's $(grep -m1 -o 'GOODSIG [0-9A-F]*' "$D/good-$k.out"), no W:/E:/N: line; apt-cache policy: candidate signet-hello 1.0"
	else
		fail "apt-get update, $what (exit $r)" "$D/good-$k.out"
	fi
done
# The wrong certificate: NO_PUBKEY.
apt_update wrongkey "$D/rpm-rsa.asc"
if [ "$(cat "$D/wrongkey.rc")" != 0 ] && grep -q '^W: .*NO_PUBKEY' "$D/wrongkey.out"; then
	ok "signed-by another key (rpm-rsa): apt-get update exit $(cat "$D/wrongkey.rc"): \"$(grep -m1 '^W: .*NO_PUBKEY' "$D/wrongkey.out" | sed "s|$D|\$D|g")\""
else
	fail "apt-get update with the wrong key" "$D/wrongkey.out"
fi
# A tampered InRelease: one byte of its signed text changed.
cp "$R/dists/stable/InRelease" "$D/InRelease.good"
sed -i 's/^Suite: stable$/Suite: stablf/' "$R/dists/stable/InRelease"
apt_update tampered "$D/apt-ec.gpg"
r=$(cat "$D/tampered.rc")
if ! cmp -s "$R/dists/stable/InRelease" "$D/InRelease.good" && [ "$r" != 0 ] &&
	grep -q '^W: GPG error: .* InRelease: The following signatures were invalid: BADSIG' "$D/tampered.out" &&
	grep -q "^E: The repository '.*' is not signed" "$D/tampered.out" && ! grep -q 'GOODSIG' "$D/tampered.out"; then
	ok "a byte changed in InRelease's text: apt-get update exit $r: \"$(grep -m1 '^W: GPG error' "$D/tampered.out" | sed "s|$D|\$D|g")\", \"$(grep -m1 '^E: ' "$D/tampered.out" | sed "s|$D|\$D|g")\""
else
	fail "tampered InRelease (exit $r)" "$D/tampered.out"
fi
gpgv --keyring "$D/apt-ec.gpg" "$R/dists/stable/InRelease" > "$D/gpgv-bad.out" 2>&1
r=$?
if [ "$r" != 0 ] && grep -q 'BAD signature' "$D/gpgv-bad.out"; then
	ok "gpgv on it: exit $r, $(grep -m1 'BAD signature' "$D/gpgv-bad.out")"
else
	fail "gpgv on the tampered InRelease (exit $r)" "$D/gpgv-bad.out"
fi
# Without InRelease APT takes Release and Release.gpg: good, then with
# Release changed.
rm "$R/dists/stable/InRelease"
apt_update detached "$D/apt-ec.asc"
if [ "$(cat "$D/detached.rc")" = 0 ] && grep -q 'Release.gpg' "$D/detached.out" &&
	grep -q 'GOODSIG' "$D/detached.out" && ! grep -Eq 'NO_PUBKEY|not signed|^W:|^E:' "$D/detached.out"; then
	ok "Release + Release.gpg (no InRelease): apt-get update exit 0, GOODSIG"
else
	fail "apt-get update with Release.gpg" "$D/detached.out"
fi
sed -i 's/^Suite: stable$/Suite: stablf/' "$R/dists/stable/Release"
apt_update detached-bad "$D/apt-ec.asc"
if [ "$(cat "$D/detached-bad.rc")" != 0 ] && grep -q '^W: GPG error: .*Release: The following signatures were invalid: BADSIG' "$D/detached-bad.out"; then
	ok "Release changed under Release.gpg: apt-get update exit $(cat "$D/detached-bad.rc"): \"$(grep -m1 '^W: GPG error' "$D/detached-bad.out" | sed "s|$D|\$D|g")\""
else
	fail "apt-get update with a changed Release" "$D/detached-bad.out"
fi
snapshot > "$D/system.after"
if diff "$D/system.before" "$D/system.after" > "$D/system.diff"; then
	ok "$APT_N runs of apt-get update as $(id -un): /etc/apt, /var/lib/apt, /var/cache/apt and dpkg's status untouched ($(wc -l < "$D/system.before") files compared)"
else
	fail "the system's APT state changed" "$D/system.diff"
fi

stack_agent_stop
[ -f "$D/agent.failures" ] && fail "the agent exited with status $(cat "$D/agent.failures")"
summary "openpgp_tools: "
