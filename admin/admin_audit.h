/*
 * admin_audit.h — the `signet-admin audit` commands (admin_audit.c).
 */
#ifndef SG_ADMIN_AUDIT_H
#define SG_ADMIN_AUDIT_H

/* argv[0] is the verb ("verify").  Returns the exit status: 0 verified,
 * 1 a defect found (one line naming it on stdout), 2 usage or unreadable
 * input. */
int admin_audit_command(int argc, char **argv);

#endif
