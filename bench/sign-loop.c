/*
 * sign-loop: the cost of one commit signature, in-process or through
 * ssh-agent, measured over a commit-sized payload.
 *
 *   sign-loop RUNS KEYFILE            the private key in memory
 *   sign-loop RUNS PUBFILE SOCKET     the key's agent at SOCKET
 *   sign-loop RUNS --openpgp ASCFILE PASSPHRASE
 *                                     an armored OpenPGP secret key, as
 *                                     KPIN_SIGNING_KEY (GPGME)
 *
 * Prints "median_us min_us" over RUNS signatures (after one unmeasured
 * signature that loads libcrypto and reads the key). Part of the
 * benchmarks (bench/sign.sh), not of kpin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpin.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	static const char payload[] =
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"author kpin <kpin@example.com> 1700000000 +0000\n"
		"committer kpin <kpin@example.com> 1700000000 +0000\n\n"
		"web/prd: set web to sha256:3f1c2a9b0d4e\n\nImage: web\n"
		"Digest: sha256:3f1c2a9b0d4e3f1c2a9b0d4e3f1c2a9b0d4e3f1c2a9b0d4e"
		"3f1c2a9b0d4e3f1c\nEnvironment: prd\n";
	struct kpin_sign_opts o;
	struct kpin_signer *s = NULL;
	struct kpin_buf sig = KPIN_BUF_INIT, asc = KPIN_BUF_INIT;
	double *t;
	int runs, i;

	if (argc < 3 || (runs = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: sign-loop RUNS KEYFILE [SOCKET]\n");
		return 2;
	}
	memset(&o, 0, sizeof(o));
	o.format = KPIN_SIGN_SSH;
	o.signing_key = argv[2];
	o.agent_sock = argc > 3 ? argv[3] : NULL;
	if (argc > 4 && !strcmp(argv[2], "--openpgp")) {
		if (kpin_file_read(&asc, argv[3], 1 << 20, NULL)) {
			fprintf(stderr, "sign-loop: %s\n",
				kpin_error_last()->message);
			return 1;
		}
		o.format = KPIN_SIGN_OPENPGP;
		o.signing_key = NULL;
		o.agent_sock = NULL;
		o.key_data = asc.ptr;
		o.passphrase = argv[4];
	}
	t = calloc((size_t)runs, sizeof(*t));
	if (!t || kpin_signer_open(&s, &o) ||
	    kpin_signer_sign(&sig, s, payload, sizeof(payload) - 1)) {
		fprintf(stderr, "sign-loop: %s\n", kpin_error_last()->message);
		return 1;
	}
	for (i = 0; i < runs; i++) {
		double t0 = now_us();

		kpin_buf_reset(&sig);
		if (kpin_signer_sign(&sig, s, payload, sizeof(payload) - 1)) {
			fprintf(stderr, "sign-loop: %s\n",
				kpin_error_last()->message);
			return 1;
		}
		t[i] = now_us() - t0;
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp);
	printf("%.1f %.1f\n", t[runs / 2], t[0]);
	kpin_buf_release(&sig);
	kpin_buf_release(&asc);
	kpin_signer_free(s);
	free(t);
	return 0;
}
