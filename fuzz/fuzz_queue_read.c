/*
 * fuzz_queue_read.c — the queue's capped reply reader (queue/queue_io.c)
 * on arbitrary bytes, as a hostile server would send them: the input is
 * fed in pieces (the first byte sets their size), and replies are taken
 * as they complete.  Whatever comes out must be a reply within the bounds
 * (elements, nesting); an error is sticky; the reader never holds more
 * than one reply's cap plus one piece.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "queue_internal.h"
#include "queue_io.h"

#define FUZZ_ELEMS_MAX   4096 /* array elements in one reply */
#define FUZZ_REPLIES_MAX 64   /* replies taken from one input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Counts the array elements of a reply, all levels, and its depth. */
static size_t
count_elems(const redisReply *r, int depth)
{
	size_t n = 0, i;

	if (depth > QUEUE_RESP_DEPTH_MAX + 1)
		abort();
	if (r->type != REDIS_REPLY_ARRAY)
		return 0;
	for (i = 0; i < r->elements; i++) {
		if (r->element[i] == NULL)
			abort();
		n += 1 + count_elems(r->element[i], depth + 1);
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qio *io;
	void *rep = NULL;
	size_t piece, off = 0;
	int r, taken = 0;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 32 + 1;
	data++;
	size--;
	if ((io = qio_new_detached()) == NULL)
		return 0;
	while (off < size && taken < FUZZ_REPLIES_MAX) {
		size_t n = size - off < piece ? size - off : piece;

		r = qio_feed(io, data + off, n, FUZZ_ELEMS_MAX, &rep);
		off += n;
		/* Drain what is complete. */
		while (r == 0 && rep != NULL && taken < FUZZ_REPLIES_MAX) {
			if (count_elems(rep, 1) > FUZZ_ELEMS_MAX)
				abort();
			freeReplyObject(rep);
			rep = NULL;
			taken++;
			r = qio_feed(io, NULL, 0, FUZZ_ELEMS_MAX, &rep);
		}
		if (rep != NULL) {
			freeReplyObject(rep);
			rep = NULL;
		}
		if (r != 0) {
			/* Sticky: nothing more comes out. */
			if (qio_error(io) != r ||
			    qio_feed(io, "+OK\r\n", 5, FUZZ_ELEMS_MAX, &rep) != r || rep != NULL)
				abort();
			break;
		}
	}
	qio_close(io);
	return 0;
}
