/*
 * cputime.c - runs a command and appends its CPU time to a file, for
 * bench/longrun/run.sh.
 *
 *   cputime FILE COMMAND [ARG...]
 *
 * appends "user_us sys_us maxrss_kib" (the child's rusage from wait4,
 * threads included, in microseconds) as one line to FILE and exits with
 * the command's status. /usr/bin/time -f rounds to 10 ms, a quarter of
 * a small stage run; rusage counts microseconds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int64_t
micros(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Appends the child's times to path; 0 ok, -1 with a message. */
static int
append_times(const char *path, const struct rusage *ru)
{
	FILE *f = fopen(path, "a");
	int rc = 0;

	if (f == NULL) {
		fprintf(stderr, "cputime: cannot open %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (fprintf(f, "%" PRId64 " %" PRId64 " %ld\n", micros(ru->ru_utime),
	    micros(ru->ru_stime), ru->ru_maxrss) < 0)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == -1)
		fprintf(stderr, "cputime: cannot write %s: %s\n", path,
		    strerror(errno));
	return rc;
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	pid_t pid;
	int status;

	if (argc < 3) {
		fprintf(stderr, "usage: cputime FILE COMMAND [ARG...]\n");
		return 2;
	}
	if ((pid = fork()) == -1) {
		fprintf(stderr, "cputime: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "cputime: cannot run %s: %s\n", argv[2],
		    strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "cputime: wait4: %s\n",
			    strerror(errno));
			return 1;
		}
	}
	if (append_times(argv[1], &ru) == -1)
		return 1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
