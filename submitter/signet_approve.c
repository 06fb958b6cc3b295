/*
 * signet-approve — the approver's command (docs/signet-approve.md): list the
 * jobs that wait for approvals, show one in full, approve or deny it.
 *
 * Nothing is believed that the agent did not attest.  A job is listed only
 * when its stream entry carries a job envelope whose id has a result
 * signed by the pinned agent key, pending, and bound to that entry's exact
 * payload (job_sha256).  A decision is signed only for a job whose pending
 * result verified, and it names that result's job_sha256, so it cannot be
 * turned into an approval of another payload under the same id.
 *
 * Every string shown comes from Redis through the agent, which copied most
 * of them from the submitter's job: they are escaped (log_escape()) and cut
 * before they reach the terminal.
 *
 * Whether the agent counted a decision is read from the result it
 * rewrites (approvals.c): the approver's keyid in the received list, a new
 * refused entry for it, or the job decided.  An approval signed by a key
 * the agent does not know leaves no trace there: the wait runs out.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "approval.h"
#include "cli.h"
#include "client.h"
#include "crypto.h"
#include "envelope.h"
#include "job.h"
#include "log.h"
#include "queue.h"
#include "result.h"
#include "sgtime.h"
#include "submitter.h"
#include "util.h"

#define PROG "signet-approve"

#define WAIT_DEFAULT_S   60
#define LIST_ENTRIES_MAX 10000 /* stream entries that list reads at most */
#define SHOWN_MAX        512   /* bytes of a string from the result shown */
#define ESC_MAX          (SHOWN_MAX * 4 + 8)
#define ANSWER_MAX       16 /* bytes of an answer to the confirmation */

enum command { CMD_LIST, CMD_SHOW, CMD_APPROVE, CMD_DENY };

struct options {
	struct client_opts c;
	enum command cmd;
	const char *id;      /* show, approve, deny */
	const char *comment; /* approve, deny: or NULL */
	int yes;
};

static void
usage(FILE *f)
{
	fputs("usage: " PROG " [options] list\n"
	      "       " PROG " [options] show ID\n"
	      "       " PROG " [options] approve ID [--comment TEXT] [--yes]\n"
	      "       " PROG " [options] deny ID [--comment TEXT] [--yes]\n"
	      "\n"
	      "Approve or deny jobs that wait for approvals before the signet agent signs\n"
	      "them. Only results attested by the agent key are shown or answered.\n"
	      "\n"
	      "  list                        the jobs pending approval, one line each\n"
	      "  show ID                     everything about job ID that an approver judges\n"
	      "  approve ID, deny ID         show it, ask, sign the decision with the identity\n"
	      "                              key, push it and wait for the agent to count it\n"
	      "\n"
	      "  -i, --identity PATH         the approver's private key, PEM (env\n"
	      "                              SIGNET_IDENTITY; approve and deny)\n"
	      "      --cert PATH             the approver's certificate for that key, PEM,\n"
	      "                              sent with the signature (env SIGNET_CERT)\n"
	      "  -r, --redis URL             redis://[user:password@]host:port[/db] or\n"
	      "                              unix:///path (env SIGNET_REDIS)\n"
	      "  -a, --agent-pubkey PATH     agent attestation public key, PEM\n"
	      "                              (env SIGNET_AGENT_PUBKEY)\n" CLIENT_QUEUE_OPTIONS_USAGE
	      "  -w, --wait SECONDS          how long to wait for the agent to count a decision\n"
	      "                              (default 60, at most 86400; 0: push and exit)\n"
	      "  -c, --comment TEXT          with the decision: 1 to 256 bytes, no control\n"
	      "                              characters\n"
	      "  -y, --yes                   do not ask (required when stdin is not a terminal)\n"
	      "      --json                  list: a JSON array of the pending results; show,\n"
	      "                              approve, deny: the verified result payload\n"
	      "  -h, --help                  this text\n"
	      "      --version               print the version\n",
	    f);
	fputs("\n"
	      "Options override environment variables; an empty variable counts as unset.\n"
	      "\n"
	      "Exit status: 0 listed, shown, or the decision counted (or already counted);\n"
	      "1 the agent refused the decision, the job is not pending, there is no result\n"
	      "for it, or the confirmation was not given; 2 usage or configuration error;\n"
	      "3 no answer from the agent in time; 4 queue or other infrastructure error;\n"
	      "5 the job's result does not verify (nothing is signed).\n",
	    f);
}

static const struct cli cli = { .prog = PROG, .usage = usage };

static const struct option long_options[] = {
	{ "comment", required_argument, NULL, 'c' },
	{ "yes", no_argument, NULL, 'y' },
	CLIENT_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static int
is_job_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == JOB_ID_LEN;
}

/* Fills *o from argv and the environment.  -1 to go on, or the exit status
 * (0 after --help/--version, 2 after a usage error, reported). */
static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct {
		const char *name;
		enum command cmd;
		int has_id;
	} cmds[] = {
		{ "list", CMD_LIST, 0 },
		{ "show", CMD_SHOW, 1 },
		{ "approve", CMD_APPROVE, 1 },
		{ "deny", CMD_DENY, 1 },
	};
	const char *wait = NULL;
	size_t i;
	int c, has_id = 0, decides;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:y" CLIENT_OPTSTRING, long_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->comment = optarg;
			break;
		case 'y':
			o->yes = 1;
			break;
		default:
			if (!client_option(&o->c, c, optarg, &wait))
				return cli_getopt_default(&cli, c, argv);
		}
	}
	if (optind >= argc) {
		client_msg("missing command: list, show, approve or deny (see --help)");
		return CLIENT_EXIT_USAGE;
	}
	for (i = 0; i < nitems(cmds); i++)
		if (strcmp(argv[optind], cmds[i].name) == 0)
			break;
	if (i == nitems(cmds)) {
		client_msg("unknown command; list, show, approve or deny (see --help)");
		return CLIENT_EXIT_USAGE;
	}
	o->cmd = cmds[i].cmd;
	has_id = cmds[i].has_id;
	optind++;
	if (has_id) {
		if ((o->id = cli_one_operand(&cli, argc, argv, "ID")) == NULL)
			return CLIENT_EXIT_USAGE;
		if (!is_job_id(o->id)) {
			client_msg("invalid ID: a job id is 32 lowercase hex characters");
			return CLIENT_EXIT_USAGE;
		}
	} else if (optind < argc) {
		client_msg("list takes no operand (see --help)");
		return CLIENT_EXIT_USAGE;
	}
	decides = o->cmd == CMD_APPROVE || o->cmd == CMD_DENY;
	if (!decides && (o->comment != NULL || o->yes)) {
		client_msg("--comment and --yes go with approve and deny only");
		return CLIENT_EXIT_USAGE;
	}
	if (o->comment != NULL &&
	    (*o->comment == '\0' ||
		!sj_string_ok(o->comment, strlen(o->comment), APPROVAL_COMMENT_MAX))) {
		client_msg(
		    "invalid --comment: 1 to %d bytes of UTF-8 text without control characters",
		    APPROVAL_COMMENT_MAX);
		return CLIENT_EXIT_USAGE;
	}
	if (decides && !o->yes && !isatty(STDIN_FILENO)) {
		client_msg("stdin is not a terminal: confirm with --yes");
		return CLIENT_EXIT_USAGE;
	}
	return client_options_finish(
	    &o->c, wait, WAIT_DEFAULT_S, CLIENT_NEED_AGENT | (decides ? CLIENT_NEED_IDENTITY : 0));
}

/* s from the result, escaped and cut for the terminal; "-" when absent. */
static const char *
shown(const char *s, char buf[ESC_MAX])
{
	if (s == NULL)
		return "-";
	return log_escape(s, SHOWN_MAX, buf, ESC_MAX);
}

/* "2026-11-26T16:00:00Z (in 1h 05m)" or "(... ago)". */
static void
format_when(int64_t t, char *out, size_t outsz)
{
	char when[SGTIME_LEN + 1];
	int64_t d = t - sgtime_now();
	long long a = (long long)(d < 0 ? -d : d);
	char rel[64];

	sgtime_format(t, when);
	if (a >= 86400)
		snprintf(rel, sizeof(rel), "%lldd %02lldh", a / 86400, a % 86400 / 3600);
	else if (a >= 3600)
		snprintf(rel, sizeof(rel), "%lldh %02lldm", a / 3600, a % 3600 / 60);
	else if (a >= 60)
		snprintf(rel, sizeof(rel), "%lldm %02llds", a / 60, a % 60);
	else
		snprintf(rel, sizeof(rel), "%llds", a);
	snprintf(out, outsz, "%s (%s%s%s)", when, d < 0 ? "" : "in ", rel, d < 0 ? " ago" : "");
}

/* Every fact of a pending result that an approver judges, one per line. */
static void
print_facts(FILE *f, const struct sg_result *res)
{
	char e1[ESC_MAX], e2[ESC_MAX], e3[ESC_MAX], when[SGTIME_LEN + 128];
	char at[SGTIME_LEN + 1];
	size_t i;

	fprintf(f, "job:          %s\n", res->id);
	fprintf(f, "status:       %s\n", sg_status_name(res->status));
	fprintf(f, "submitter:    %s\n", shown(res->submitter, e1));
	fprintf(f, "key:          %s (format %s)\n", shown(res->key, e1), shown(res->format, e2));
	if (res->has_artifact) {
		fprintf(f, "artifact:     %s\n", shown(res->artifact.name, e1));
		fprintf(f, "sha256:       %s\n", res->artifact.sha256_hex);
		fprintf(f, "size:         %llu bytes\n", (unsigned long long)res->artifact.size);
	}
	fprintf(f, "ci system:    %s\n", shown(res->ci.system, e1));
	fprintf(f, "ci project:   %s\n", shown(res->ci.project, e1));
	fprintf(f, "ci pipeline:  %s\n", shown(res->ci.pipeline, e1));
	fprintf(f, "ci job:       %s\n", shown(res->ci.job, e1));
	fprintf(f, "ci commit:    %s\n", shown(res->ci.commit, e1));
	fprintf(f, "ci ref:       %s\n", shown(res->ci.ref, e1));
	fprintf(f, "pipeline url: %s\n", shown(res->ci.url, e1));
	fprintf(f, "note:         %s\n", shown(res->note, e1));
	if (res->expires != 0) {
		format_when(res->expires, when, sizeof(when));
		fprintf(f, "expires:      %s\n", when);
	}
	fprintf(f, "approvals:    %zu of %u\n", res->napprovals, res->approvals_required);
	for (i = 0; i < res->napprovals && i < RESULT_APPROVALS_MAX; i++) {
		sgtime_format(res->approvals[i].at, at);
		fprintf(f, "  approved by %s (%s) at %s%s%s\n",
		    shown(res->approvals[i].approver, e1),
		    shown(res->approvals[i].keyid[0] != '\0' ? res->approvals[i].keyid : NULL, e2),
		    at, res->approvals[i].comment != NULL ? ": " : "",
		    res->approvals[i].comment != NULL ? shown(res->approvals[i].comment, e3) : "");
	}
	for (i = 0; i < res->nrefused && i < RESULT_REFUSED_MAX; i++) {
		sgtime_format(res->refused[i].at, at);
		fprintf(f, "refused:      %s (%s) at %s: %s\n", shown(res->refused[i].approver, e1),
		    shown(res->refused[i].keyid, e2), at, shown(res->refused[i].why, e3));
	}
	fputs("notified:     ", f);
	for (i = 0; i < res->nnotified && i < RESULT_NOTIFIED_MAX; i++)
		fprintf(f, "%s%s", i > 0 ? ", " : "", shown(res->notified[i], e1));
	fputs(res->nnotified == 0 ? "-\n" : "\n", f);
}

/* "rejected approval.denied: denied by ..." for a result that is not pending. */
static void
say_status(const char *what, const struct sg_result *res)
{
	char e1[ESC_MAX], e2[ESC_MAX];

	if (res->status == SG_STATUS_SIGNED)
		client_msg("%s job %s is signed", what, res->id);
	else
		client_msg("%s job %s is %s: %s: %s", what, res->id, sg_status_name(res->status),
		    shown(res->error_code, e1), shown(res->error_message, e2));
}

/* What one run holds. */
struct run {
	const struct options *o;
	EVP_PKEY *identity, *agent;
	char keyid[KEYID_LEN + 1];
	struct queue *q;
	struct waiter w;
	struct sg_result *res; /* the verified result of o->id */
	uint8_t *payload;      /* and its payload */
	size_t payload_len;
};

/* Reads and verifies the result of o->id (bound to the id; any payload). */
static int
fetch_verified(struct run *rn)
{
	const char *why = NULL;
	int r, ignored = 0;

	rn->w.q = rn->q;
	rn->w.job_id = rn->o->id;
	rn->w.agent = rn->agent;
	r = client_fetch_result(&rn->w, &rn->res, &rn->payload, &rn->payload_len, &ignored, &why);
	if (r == SG_ERR_NOT_FOUND) {
		client_msg("no result for job %s", rn->o->id);
		return CLIENT_EXIT_REFUSED;
	}
	if (r == SG_ERR_VERIFY) {
		client_msg("the result for job %s does not verify: %s", rn->o->id, why);
		return CLIENT_EXIT_MISMATCH;
	}
	if (r != 0) {
		client_msg("cannot read the result of job %s: %s", rn->o->id, sg_strerror(r));
		return CLIENT_EXIT_INFRA;
	}
	return CLIENT_EXIT_OK;
}

static int
print_payload(const struct run *rn)
{
	if (client_print_stdout(rn->payload, rn->payload_len) != 0) {
		client_msg("cannot write to stdout: %s", strerror(errno));
		return CLIENT_EXIT_INFRA;
	}
	return CLIENT_EXIT_OK;
}

static int
cmd_show(struct run *rn)
{
	int ex;

	if ((ex = fetch_verified(rn)) != CLIENT_EXIT_OK)
		return ex;
	if (rn->o->c.json && (ex = print_payload(rn)) != CLIENT_EXIT_OK)
		return ex;
	if (rn->res->status != SG_STATUS_PENDING) {
		say_status("not pending:", rn->res);
		return CLIENT_EXIT_REFUSED;
	}
	if (!rn->o->c.json)
		print_facts(stdout, rn->res);
	if (fflush(stdout) != 0) {
		client_msg("cannot write to stdout: %s", strerror(errno));
		return CLIENT_EXIT_INFRA;
	}
	return CLIENT_EXIT_OK;
}

/* The pending jobs found so far, for list. */
struct listing {
	char (*ids)[JOB_ID_LEN + 1];
	size_t n, cap;
};

static int
listed(const struct listing *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->ids[i], id) == 0)
			return 1;
	return 0;
}

/*
 * One stream entry: a job envelope whose id has an attested pending result
 * bound to this entry's payload is printed (or, with --json, its result
 * payload).  Anything else is passed over in silence: the stream also
 * holds approvals, jobs in work and whatever anyone wrote.  0, or an exit
 * status for a queue error.
 */
static int
list_entry(struct run *rn, const struct queue_entry *e, struct listing *l)
{
	struct dsse_envelope *env = NULL;
	struct sg_result *res = NULL;
	uint8_t *payload = NULL, h[SHA256_LEN];
	size_t payload_len = 0;
	char id[JOB_ID_LEN + 1], e1[ESC_MAX], e2[ESC_MAX], e3[ESC_MAX], e4[ESC_MAX];
	char when[SGTIME_LEN + 1];
	const char *why = NULL;
	int r, ignored = 0, ex = CLIENT_EXIT_OK;

	if (e->env == NULL || e->env_len > ENVELOPE_MAX_BYTES ||
	    envelope_parse(e->env, e->env_len, &env) != 0)
		goto out;
	if (strcmp(env->payload_type, PAYLOAD_TYPE_JOB) != 0 ||
	    job_peek_id(env->payload, env->payload_len, id) != 0 || listed(l, id))
		goto out;
	crypto_sha256(env->payload, env->payload_len, h);
	rn->w.q = rn->q;
	rn->w.job_id = id;
	rn->w.agent = rn->agent;
	hex_encode(h, SHA256_LEN, rn->w.job_sha256_hex);
	r = client_fetch_result(&rn->w, &res, &payload, &payload_len, &ignored, &why);
	if (r == SG_ERR_NOT_FOUND || r == SG_ERR_VERIFY)
		goto out;
	if (r != 0) {
		client_msg("cannot read the result of job %s: %s", id, sg_strerror(r));
		ex = CLIENT_EXIT_INFRA;
		goto out;
	}
	if (res->status != SG_STATUS_PENDING)
		goto out;
	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 16 : l->cap * 2;
		void *p = reallocarray(l->ids, cap, sizeof(*l->ids));
		if (p == NULL) {
			client_msg("out of memory");
			ex = CLIENT_EXIT_INFRA;
			goto out;
		}
		l->ids = p;
		l->cap = cap;
	}
	memcpy(l->ids[l->n++], id, sizeof(id));
	if (rn->o->c.json) {
		r = fputs(l->n == 1 ? "[" : ",\n", stdout) == EOF ||
		    (payload_len > 0 && fwrite(payload, 1, payload_len, stdout) != payload_len);
	} else {
		sgtime_format(res->expires, when);
		r = printf("%s  %s  %s  %s  approvals %zu/%u  expires %s  %s\n", id,
			shown(res->key, e1), shown(res->submitter, e2),
			shown(res->has_artifact ? res->artifact.name : NULL, e3), res->napprovals,
			res->approvals_required, when, shown(res->ci.url, e4)) < 0;
	}
	if (r != 0) {
		client_msg("cannot write to stdout: %s", strerror(errno));
		ex = CLIENT_EXIT_INFRA;
	}
out:
	envelope_free(env);
	result_free(res);
	free(payload);
	rn->w.job_id = NULL;
	return ex;
}

/* Walks the jobs stream, a page at a time, at most LIST_ENTRIES_MAX entries. */
static int
cmd_list(struct run *rn)
{
	struct listing l = { NULL, 0, 0 };
	struct queue_entry *e = NULL;
	char start[QUEUE_ENTRY_ID_MAX + 2] = "-";
	size_t n = 0, i, count, seen = 0;
	int r, ex = CLIENT_EXIT_OK, more = 0;

	while (seen < LIST_ENTRIES_MAX) {
		count = LIST_ENTRIES_MAX - seen;
		if (count > QUEUE_READ_COUNT_MAX)
			count = QUEUE_READ_COUNT_MAX;
		if ((r = queue_range(rn->q, start, count, &e, &n)) != 0) {
			client_msg("cannot read the jobs stream: %s", sg_strerror(r));
			ex = CLIENT_EXIT_INFRA;
			goto out;
		}
		for (i = 0; i < n && ex == CLIENT_EXIT_OK; i++)
			ex = list_entry(rn, &e[i], &l);
		seen += n;
		if (n > 0)
			snprintf(start, sizeof(start), "(%s", e[n - 1].id);
		queue_entries_free(e, n);
		e = NULL;
		if (ex != CLIENT_EXIT_OK)
			goto out;
		if (n < count)
			break;
		more = seen >= LIST_ENTRIES_MAX;
	}
	if (more)
		client_msg("warning: stopped after %d stream entries; older jobs only are listed",
		    LIST_ENTRIES_MAX);
	if (rn->o->c.json)
		r = fputs(l.n == 0 ? "[]\n" : "]\n", stdout) == EOF;
	else
		r = l.n == 0 && puts("no jobs are pending approval") == EOF;
	if (r != 0 || fflush(stdout) != 0) {
		client_msg("cannot write to stdout: %s", strerror(errno));
		ex = CLIENT_EXIT_INFRA;
	}
out:
	free(l.ids);
	return ex;
}

/* Asks "approve job ID? [y/N]" on stderr; 1 for yes. */
static int
confirm(const struct options *o)
{
	char answer[ANSWER_MAX];
	size_t len;

	fprintf(stderr, "%s job %s? [y/N] ", o->cmd == CMD_APPROVE ? "approve" : "deny", o->id);
	fflush(stderr);
	if (fgets(answer, sizeof(answer), stdin) == NULL)
		return 0;
	len = strcspn(answer, "\r\n");
	answer[len] = '\0';
	return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}

/* What the wait for the agent's answer to a decision needs. */
struct decision_wait {
	const struct sg_result *before;
	const char *keyid;
	enum sg_decision d;
	enum approve_outcome outcome;
	size_t refused; /* with APPROVE_REFUSED: the entry */
};

static int
decision_answered(struct waiter *w, const struct sg_result *res)
{
	struct decision_wait *dw = w->ctx;

	dw->outcome = approve_outcome(dw->before, res, dw->keyid, dw->d, &dw->refused);
	return dw->outcome != APPROVE_WAITING;
}

/* Signs the decision on the pending result rn->res and pushes it. */
static int
push_decision(struct run *rn, enum sg_decision d)
{
	const struct options *o = rn->o;
	struct sg_approval a;
	char *payload = NULL, *env = NULL;
	size_t payload_len = 0, env_len = 0;
	int r, ex = CLIENT_EXIT_INFRA;

	memset(&a, 0, sizeof(a));
	memcpy(a.id, rn->res->id, sizeof(a.id));
	memcpy(a.job_sha256, rn->res->job_sha256, sizeof(a.job_sha256));
	a.decision = d;
	a.created = sgtime_now();
	if (o->comment != NULL && (a.comment = xstrdup(o->comment)) == NULL) {
		client_msg("out of memory");
		goto out;
	}
	if ((r = approval_serialize(&a, &payload, &payload_len)) != 0) {
		client_msg("cannot build the decision: %s", sg_strerror(r));
		ex = r == SG_ERR_ALLOC ? CLIENT_EXIT_INFRA : CLIENT_EXIT_USAGE;
		goto out;
	}
	if ((ex = client_seal(&o->c, rn->identity, PAYLOAD_TYPE_APPROVAL, payload, payload_len,
		 &env, &env_len)) != CLIENT_EXIT_OK)
		goto out;
	if ((r = client_submit(rn->q, env, env_len)) != 0) {
		client_msg("cannot push the decision on job %s: %s", o->id, sg_strerror(r));
		ex = CLIENT_EXIT_INFRA;
		goto out;
	}
	ex = CLIENT_EXIT_OK;
out:
	free(a.comment);
	free(payload);
	free(env);
	return ex;
}

/* What the agent made of it, said in one line; the exit status. */
static int
report(const struct run *rn, const struct decision_wait *dw, const struct sg_result *now)
{
	char e1[ESC_MAX];

	switch (dw->outcome) {
	case APPROVE_COUNTED:
		if (dw->d == SG_DECISION_DENY)
			client_msg("denied job %s", now->id);
		else if (now->status == SG_STATUS_SIGNED)
			client_msg("approved job %s: %zu of %u, the agent signed it", now->id,
			    now->napprovals, dw->before->approvals_required);
		else if (now->napprovals >= now->approvals_required)
			client_msg("approved job %s: %zu of %u, the agent signs it", now->id,
			    now->napprovals, now->approvals_required);
		else
			client_msg("approval counted: %zu of %u", now->napprovals,
			    now->approvals_required);
		return CLIENT_EXIT_OK;
	case APPROVE_REFUSED:
		client_msg("the agent refused the %s of job %s by keyid %s: %s",
		    dw->d == SG_DECISION_APPROVE ? "approval" : "denial", now->id, rn->keyid,
		    shown(now->refused[dw->refused].why, e1));
		return CLIENT_EXIT_REFUSED;
	case APPROVE_DECIDED:
		say_status("decided without this decision:", now);
		return CLIENT_EXIT_REFUSED;
	case APPROVE_WAITING:
		break;
	}
	return CLIENT_EXIT_TIMEOUT; /* not reached: the wait ends on an outcome */
}

static int
cmd_decide(struct run *rn)
{
	const struct options *o = rn->o;
	enum sg_decision d = o->cmd == CMD_APPROVE ? SG_DECISION_APPROVE : SG_DECISION_DENY;
	struct decision_wait dw;
	struct sg_result *now = NULL;
	uint8_t *now_payload = NULL;
	size_t now_len = 0;
	int r, ex;

	if ((ex = fetch_verified(rn)) != CLIENT_EXIT_OK)
		return ex;
	if (rn->res->status != SG_STATUS_PENDING) {
		say_status("not pending:", rn->res);
		return CLIENT_EXIT_REFUSED;
	}
	print_facts(o->c.json ? stderr : stdout, rn->res);
	fflush(stdout);
	if (approve_has_keyid(rn->res, rn->keyid)) {
		client_msg("job %s already has the approval of keyid %s; an approver counts once, "
			   "nothing sent",
		    o->id, rn->keyid);
		return CLIENT_EXIT_OK;
	}
	if (!o->yes && !confirm(o)) {
		client_msg("not confirmed; nothing sent");
		return CLIENT_EXIT_REFUSED;
	}
	if ((ex = push_decision(rn, d)) != CLIENT_EXIT_OK)
		return ex;
	if (o->c.wait_s == 0) {
		client_msg("sent the %s of job %s (keyid %s); not waiting",
		    d == SG_DECISION_APPROVE ? "approval" : "denial", o->id, rn->keyid);
		return CLIENT_EXIT_OK;
	}

	memset(&dw, 0, sizeof(dw));
	dw.before = rn->res;
	dw.keyid = rn->keyid;
	dw.d = d;
	memcpy(rn->w.job_sha256_hex, rn->res->job_sha256, sizeof(rn->w.job_sha256_hex));
	rn->w.is_answer = decision_answered;
	rn->w.ctx = &dw;
	r = client_wait_result(
	    &rn->w, sgtime_mono_ms() + (int64_t)o->c.wait_s * 1000, &now, &now_payload, &now_len);
	if (r == SG_ERR_TIMEOUT) {
		client_msg(
		    "no answer from the agent within %llu s: the agent may not know this "
		    "key (keyid %s) as an approver of the job's key, or no agent is running; "
		    "the decision stays in the queue",
		    (unsigned long long)o->c.wait_s, rn->keyid);
		return CLIENT_EXIT_TIMEOUT;
	}
	if (r != 0) {
		client_msg("lost the queue while waiting for job %s: %s", o->id, sg_strerror(r));
		return CLIENT_EXIT_INFRA;
	}
	if (o->c.json && client_print_stdout(now_payload, now_len) != 0)
		client_msg("cannot write to stdout: %s", strerror(errno));
	ex = report(rn, &dw, now);
	result_free(now);
	free(now_payload);
	return ex;
}

static int
run(const struct options *o)
{
	struct run rn;
	int ex;

	memset(&rn, 0, sizeof(rn));
	rn.o = o;
	if ((ex = client_check_queue_config(&o->c)) != CLIENT_EXIT_OK)
		return ex;
	if ((o->cmd == CMD_APPROVE || o->cmd == CMD_DENY) &&
	    (ex = client_load_identity(&o->c, &rn.identity, rn.keyid)) != CLIENT_EXIT_OK)
		goto out;
	if ((ex = client_load_agent(&o->c, &rn.agent, rn.w.agent_keyid)) != CLIENT_EXIT_OK)
		goto out;
	if ((ex = client_queue_open(&o->c, &rn.q)) != CLIENT_EXIT_OK)
		goto out;
	switch (o->cmd) {
	case CMD_LIST:
		ex = cmd_list(&rn);
		break;
	case CMD_SHOW:
		ex = cmd_show(&rn);
		break;
	case CMD_APPROVE:
	case CMD_DENY:
		ex = cmd_decide(&rn);
		break;
	}
out:
	queue_close(rn.q);
	free(rn.w.env);
	result_free(rn.res);
	free(rn.payload);
	EVP_PKEY_free(rn.identity);
	EVP_PKEY_free(rn.agent);
	return ex;
}

int
main(int argc, char **argv)
{
	struct options o;
	int ex;

	client_start(PROG);
	if ((ex = parse_options(argc, argv, &o)) >= 0)
		return ex;
	return run(&o);
}
