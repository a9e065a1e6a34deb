/*
 * libFuzzer target for the request parser: the bytes as an event or
 * payload and as a batch; every request read is then validated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kpin_request r, *batch = NULL;
	struct kpin_buf problems = KPIN_BUF_INIT;
	size_t n = 0, i;

	memset(&r, 0, sizeof(r));
	if (kpin_request_fill_json(&r, (const char *)data, size, "fuzz") == 0)
		kpin_request_check(&r, "fuzz", &problems);
	kpin_request_release(&r);
	if (kpin_request_batch(&batch, &n, (const char *)data, size,
			       "fuzz") == 0)
		for (i = 0; i < n; i++)
			kpin_request_check(&batch[i], "fuzz", &problems);
	kpin_request_free_all(batch, n);
	kpin_buf_release(&problems);
	return 0;
}
