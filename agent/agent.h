/*
 * agent.h — the agent assembled: what signet-agent opens at start, in the
 * order that the signer boundary needs (docs/security.md), and closes at
 * the end.  main.c keeps the options, the signals and the reader loop;
 * pipeline.c processes one entry with the parts held here.
 */
#ifndef SG_AGENT_H
#define SG_AGENT_H

#include <stddef.h>

#include <openssl/evp.h>

#include "config.h"
#include "queue.h"
#include "crypto.h"
#include "err.h"

struct checkpointer;
struct pending;

struct claims;

struct agent {
	const struct agent_config *cfg; /* as started: HSM, queue, store, audit */
	struct config_live *live;       /* the policy in force (SIGHUP), or NULL: cfg */
	struct quota *quota;            /* signed jobs per submitter and key, or NULL */
	struct hsm *hsm;                /* keys 0..cfg->nkeys-1, then the attestation key */
	size_t attest_index;
	EVP_PKEY *attest_pub; /* the attestation key's public half */
	char attest_keyid[KEYID_LEN + 1];
	struct store *store;
	struct audit *audit;
	struct replay *replay;     /* ids signed, until their jobs expire */
	struct idset *ids;         /* ids bound to a job, for good */
	struct attempts *attempts; /* entries taken up and not decided, by this agent */
	struct metrics *metrics;   /* or NULL */
	struct webhooks *webhooks; /* or NULL */
	struct pending *pending;   /* entries of jobs waiting for approvals kept alive here */
	const char *checkpoints;   /* where signed checkpoints are published, or NULL */
	struct claims *claims;     /* job ids claimed in Redis by this process */
	int decision_rides_store;  /* the store's syncs cover the audit log
	                              (store_syncs_path): a signed job's decision
	                              record is made durable by them */
	char consumer[QUEUE_CONSUMER_MAX + 1]; /* this process: "name@host/pid", the
	                                          value of its claims */
	/* Owned by agent_open()/agent_close(): */
	struct checkpointer *cpr;
	char *checkpoints_buf; /* what checkpoints points to */
	char *state_dir;       /* the audit log's directory (replay table, ids) */
};

/*
 * Opens the agent of cfg (borrowed until agent_close()) into *ag, which
 * must be zeroed: starts signet-signer (which reads config_path itself)
 * and checks the keys against their certificates, becomes cfg->user,
 * starts the webhooks, reads the last checkpoint and checks the keys'
 * certificates.  With check_only it stops there.  Otherwise it opens the
 * store, the policy in force, quotas, metrics, the replay table, the bound
 * ids and the attempt counts, the audit log (replaying it), and starts the
 * checkpoint thread.  Logs what went wrong.  Returns 0, or the exit status
 * the agent ends with: 2 when the configuration, the HSM, the store or the
 * audit log refused, 1 otherwise.  agent_close() is due in every case.
 */
int agent_open(struct agent *ag, const struct agent_config *cfg, const char *config_path,
    int check_only) SG_MUST_CHECK;

/* Stops the checkpoint thread and the webhooks (draining them a little),
 * writes the metrics a last time (signet_up 0 when clean_stop), closes
 * everything agent_open() opened.  Not cfg. */
void agent_close(struct agent *ag, int clean_stop);

/*
 * SIGHUP: loads reload_path again and, when it is valid and leaves every
 * member that the HSM, queue, store and audit log were opened with as it
 * was, makes its policy the one in force for the next jobs (jobs in hand
 * finish under the old one).  Otherwise the old policy stays, and the log
 * says why.
 */
void agent_reload(struct agent *ag, const char *reload_path);

/* Logs each key whose certificate is not valid now (error) or expires
 * within 30 days (warning). */
void agent_check_certs(const struct agent *ag);

#endif
