/*
 * attempts.h — how many times this agent took up each stream entry without
 * deciding it: its own count, for the dead letters.
 *
 * Redis counts the deliveries of each entry, but anyone who can write to
 * Redis can raise that count (XCLAIM ... RETRYCOUNT n) and so drive a
 * genuine job to the dead letters, its submitter told failed/internal.
 * The agent counts instead the attempts it made itself: an attempt begins
 * with the entry's "received" audit record (one per delivery to a
 * worker, not one per retry after a queue error) and the entry is
 * forgotten at its decision record, or at the "published" record of a
 * result published again.  At start-up the table is rebuilt from the audit
 * log, so that the entries in work when an earlier run died — perhaps
 * because of them — come back with their count.
 *
 * Bounded: ATTEMPTS_ENTRIES_MAX entries taken up and not decided are
 * remembered (the agent holds at most 256 queued plus one per worker in
 * work at a time);
 * beyond that the entry begun longest ago is forgotten, which can only
 * give it more attempts, never fewer.  Entry ids are Redis stream ids
 * ("<ms>-<seq>"); anything else is never counted.  Thread-safe.
 */
#ifndef SG_ATTEMPTS_H
#define SG_ATTEMPTS_H

#include "err.h"

#define ATTEMPTS_ENTRIES_MAX 2048 /* undecided entries remembered: 96 KiB */

struct attempts;

/* NULL only when out of memory. */
struct attempts *attempts_new(void);
void attempts_free(struct attempts *a);

/* One more attempt at entry: its count, this one included (0 when entry
 * is not a stream id). */
unsigned attempts_begin(struct attempts *a, const char *entry);

/* The attempts at entry begun and not ended (0 when none, or not an id). */
unsigned attempts_get(struct attempts *a, const char *entry);

/* The entry was decided (or published again): forgotten. */
void attempts_end(struct attempts *a, const char *entry);

#endif
