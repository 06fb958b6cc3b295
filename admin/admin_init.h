/*
 * admin_init.h — `signet-admin init` (admin_init.c): prepares a host for
 * the agent's service users from its configuration.
 */
#ifndef SG_ADMIN_INIT_H
#define SG_ADMIN_INIT_H

/* argv[0] is "init".  Prints one line per thing done or checked
 * ("created ...", "would create ...", "ok ...", "todo ...").  Returns the
 * exit status: 0 everything ready, 1 something left for the operator (or a
 * step failed), 2 usage or an unreadable configuration. */
int admin_init_command(int argc, char **argv);

#endif
