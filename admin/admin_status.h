/*
 * admin_status.h — the operator's view: `signet-admin status`, `job` and
 * `signatures` (admin_status.c, docs/admin.md).
 */
#ifndef SG_ADMIN_STATUS_H
#define SG_ADMIN_STATUS_H

/* argv[0] is the command ("status", "job" or "signatures"), the rest its
 * arguments.  Returns the exit status (docs/admin.md): 0, 1 (a problem
 * found or a part that could not be read; the reason on stderr), 2 usage. */
int admin_status_command(int argc, char **argv);

#endif
