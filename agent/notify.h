/*
 * notify.h — systemd readiness and watchdog notifications (sd_notify(3)'s
 * protocol: a datagram to the unix socket named by $NOTIFY_SOCKET), spoken
 * directly so that the agent needs no libsystemd.  Without NOTIFY_SOCKET
 * every call is a no-op.
 */
#ifndef SG_NOTIFY_H
#define SG_NOTIFY_H

#include <stdint.h>

/* Sends one state string ("READY=1", "STOPPING=1", "WATCHDOG=1", ...).
 * Returns 0 when sent or when there is no notify socket, -1 on failure. */
int notify_send(const char *state);

/* The watchdog interval asked for by systemd ($WATCHDOG_USEC, for this
 * process per $WATCHDOG_PID), in milliseconds; 0 when none. */
int64_t notify_watchdog_ms(void);

#endif
