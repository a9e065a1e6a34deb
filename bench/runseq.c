/*
 * runseq: time a command sequence run after run, each run with its own
 * arguments, for benchmarks whose every run must change something (a
 * commit needs a new digest each time, which hyperfine cannot vary).
 *
 *   runseq [-n RUNS] [-s START] [-e ERRFILE] -- CMD [ARG...] [';' CMD [ARG...]]...
 *
 * Run k (k = START .. START+RUNS-1) replaces every "{N}" inside an
 * argument with k as 8 hex digits, then runs the commands in order with
 * fork/execvp, no shell; a command that fails stops everything (exit 1).
 * The commands' stdout goes to /dev/null, their stderr to ERRFILE
 * (appended; default /dev/null). One line per run on stdout:
 *
 *   k wall_ms peak_rss_kib
 *
 * wall_ms: CLOCK_MONOTONIC from before the first fork to after the last
 * wait; peak_rss_kib: the largest ru_maxrss (wait4) of the run's commands,
 * as bench/rss.c measures it.
 *
 * Part of the benchmarks (bench/repo.sh), not of kpin.
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
#include <time.h>
#include <unistd.h>

static const char *errfile = "/dev/null";

/* ARG with every "{N}" replaced by HEX (8 characters): a new string */
static char *subst(const char *arg, const char *hex)
{
	size_t n = 0, len = strlen(arg);
	const char *p;
	char *out, *o;

	for (p = arg; (p = strstr(p, "{N}")); p += 3)
		n++;
	out = malloc(len + n * 5 + 1);
	if (!out) {
		perror("runseq");
		exit(1);
	}
	for (o = out, p = arg; *p;) {
		if (!strncmp(p, "{N}", 3)) {
			memcpy(o, hex, 8);
			o += 8;
			p += 3;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* run ARGV, return its ru_maxrss (KiB) or -1 when it failed */
static long run_one(char **argv)
{
	struct rusage ru;
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0) {
		perror("runseq: fork");
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int err = open(errfile, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (null >= 0)
			dup2(null, 1);
		if (err >= 0)
			dup2(err, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("runseq: wait4");
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "runseq: %s: %s %d\n", argv[0],
			WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status)
					  : WTERMSIG(status));
		return -1;
	}
	return ru.ru_maxrss;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	unsigned long start = 0, k;
	char **cmd, **owned, hex[9];
	int runs = 1, opt, i, j, ncmd;

	while ((opt = getopt(argc, argv, "+n:s:e:")) != -1) {
		switch (opt) {
		case 'n':
			runs = atoi(optarg);
			break;
		case 's':
			start = strtoul(optarg, NULL, 0);
			break;
		case 'e':
			errfile = optarg;
			break;
		default:
			goto usage;
		}
	}
	ncmd = argc - optind;
	if (ncmd < 1 || runs < 1 || !strcmp(argv[optind], ";"))
		goto usage;
	cmd = calloc((size_t)ncmd + 1, sizeof(*cmd));
	owned = calloc((size_t)ncmd, sizeof(*owned));
	if (!cmd || !owned)
		return 1;
	for (k = start; k < start + (unsigned long)runs; k++) {
		double t0, t1;
		long peak = 0, kib;

		snprintf(hex, sizeof(hex), "%08lx", k & 0xffffffffUL);
		for (i = 0; i < ncmd; i++)
			cmd[i] = owned[i] = subst(argv[optind + i], hex);
		t0 = now_ms();
		for (i = 0; i < ncmd; i = j + 1) {
			/* one command: up to the next ";" */
			for (j = i; j < ncmd && strcmp(cmd[j], ";"); j++)
				;
			cmd[j] = NULL;
			kib = run_one(cmd + i);
			if (kib < 0)
				return 1;
			if (kib > peak)
				peak = kib;
		}
		t1 = now_ms();
		printf("%lu %.3f %ld\n", k, t1 - t0, peak);
		fflush(stdout);
		for (i = 0; i < ncmd; i++)
			free(owned[i]);
	}
	free(owned);
	free(cmd);
	return 0;
usage:
	fprintf(stderr, "usage: runseq [-n RUNS] [-s START] [-e ERRFILE] -- "
		"CMD [ARG...] [';' CMD [ARG...]]...\n");
	return 2;
}
