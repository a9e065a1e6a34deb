/*
 * rss: run a command and print its peak resident set size.
 *
 *   rss [-n RUNS] [-c SRC -o DST] -- COMMAND [ARG...]
 *
 * Runs COMMAND RUNS times (default 5) with fork/execvp, each time after
 * copying SRC over DST when -c/-o are given (so an editing command always
 * starts from the same file), and prints one line:
 *
 *   median_kib max_kib
 *
 * taken from wait4()'s rusage (ru_maxrss, KiB on Linux: the child's own
 * peak, plus any of its descendants it waited for). The command's stdout
 * and stderr go to /dev/null. Exits 1 when a run fails (not exit 0).
 *
 * Part of the benchmarks (bench/run.sh), not of kpin.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int copy_file(const char *src, const char *dst)
{
	char buf[65536];
	ssize_t n;
	int in, out, rc = 0;

	in = open(src, O_RDONLY);
	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out))
		rc = -1;
	return rc;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static long run_once(char **argv)
{
	struct rusage ru;
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0) {
		perror("rss: fork");
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("rss: wait4");
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "rss: %s: %s %d\n", argv[0],
			WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status)
					  : WTERMSIG(status));
		return -1;
	}
	return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
	const char *src = NULL, *dst = NULL;
	long *kib;
	int runs = 5, i, opt;

	while ((opt = getopt(argc, argv, "+n:c:o:")) != -1) {
		switch (opt) {
		case 'n':
			runs = atoi(optarg);
			break;
		case 'c':
			src = optarg;
			break;
		case 'o':
			dst = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || runs < 1 || !src != !dst)
		goto usage;
	kib = calloc((size_t)runs, sizeof(*kib));
	if (!kib)
		return 1;
	for (i = 0; i < runs; i++) {
		if (src && copy_file(src, dst)) {
			fprintf(stderr, "rss: cannot copy %s to %s: %s\n", src,
				dst, strerror(errno));
			return 1;
		}
		kib[i] = run_once(argv + optind);
		if (kib[i] < 0)
			return 1;
	}
	qsort(kib, (size_t)runs, sizeof(*kib), cmp_long);
	printf("%ld %ld\n", kib[runs / 2], kib[runs - 1]);
	free(kib);
	return 0;
usage:
	fprintf(stderr, "usage: rss [-n RUNS] [-c SRC -o DST] -- COMMAND [ARG...]\n");
	return 2;
}
