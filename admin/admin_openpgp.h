/*
 * admin_openpgp.h — the `signet-admin openpgp` commands (admin_openpgp.c).
 */
#ifndef SG_ADMIN_OPENPGP_H
#define SG_ADMIN_OPENPGP_H

/* argv[0] is the verb ("export").  Returns the exit status: 0 exported
 * and recorded, 1 refused or failed (one line on stderr says why), 2
 * usage error. */
int admin_openpgp_command(int argc, char **argv);

#endif
