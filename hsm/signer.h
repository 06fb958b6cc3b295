/*
 * signer.h — the key holder's side of signer_proto.h, as a library that
 * signet-signer's main() (agent/signer_main.c) runs after reading its own
 * configuration.
 *
 * The signer serves `sessions` channels (fds SP_CHANNEL_FD0...), one thread
 * each; it loads the PKCS#11 module, reads the PIN and logs in when the
 * agent sends OPEN, and from then on answers PUBKEY, SIGN and PING.  Every
 * signature it makes is appended to its journal (a hash-chained file of
 * its own, docs/security.md) before the signature leaves the process, so
 * that an agent that asks for a signature cannot keep it off the record.
 * When the token goes away (PKCS#11 reports the device, token, session or
 * login lost), the signer finalizes PKCS#11 and opens it again on a later
 * request (with backoff), and refuses a token whose keys changed.
 */
#ifndef SG_SIGNER_H
#define SG_SIGNER_H

#include <stddef.h>

#include "hsm.h"

#define SIGNER_JOURNAL_LINE_MAX 512 /* bytes of one journal record, newline included */

struct signer_opts {
	const struct hsm_config
	    *hsm; /* module, token, PIN file, sessions, keys; cfg->signer unused */
	size_t
	    attest_index; /* the attestation key: it must not be any other key (SIZE_MAX: none) */
	const char *journal; /* absolute path of the journal */
};

/*
 * No core dumps, not dumpable (no ptrace by our uid), SIGTERM when the
 * agent goes, stdin/stdout on /dev/null, every fd above the channels
 * closed, and fd SP_CHANNEL_FD0 must be a channel.  Call first, before
 * reading anything.  On failure it logs one line and exits.
 */
void signer_harden(void);

/*
 * Checks the channels, opens the journal and serves until the agent closes
 * channel 0 (exit SP_EXIT_OK) or breaks the protocol (SP_EXIT_PROTOCOL).
 * Never returns.
 */
void signer_serve(const struct signer_opts *o) __attribute__((noreturn));

#endif
