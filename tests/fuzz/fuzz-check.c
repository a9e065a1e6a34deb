/*
 * libFuzzer target for kpin check's rules: any bytes, with and without
 * --strict and --require-digest; findings must be well formed and sort.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpin.h"
#include "kpin/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kpin_findings f = { NULL, 0, 0 };
	struct kpin_check_opts o = { true, true };
	size_t i;

	kpin_check_bytes(&f, "kustomization.yaml", (const char *)data, size,
			 &o);
	o.strict = o.require_digest = false;
	kpin_check_bytes(&f, "overlays/prd/kustomization.yaml",
			 (const char *)data, size, &o);
	kpin_findings_sort(&f);
	for (i = 0; i < f.n; i++)
		if (f.v[i].line < 1 || f.v[i].col < 1 || !f.v[i].rule ||
		    !f.v[i].message)
			abort();
	kpin_findings_release(&f);
	return 0;
}
