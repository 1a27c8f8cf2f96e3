/*
 * stamp.c - the stage used by the launch-latency benchmark: writes the
 * wall-clock time it started, in nanoseconds, to the file named by its
 * first argument (via a temporary file and rename, so readers never see
 * a partial number), and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main(int argc, char **argv)
{
	struct timespec ts;
	char tmp[4096];
	FILE *f;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (argc != 2) {
		fprintf(stderr, "usage: stamp FILE\n");
		return 2;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= (int)sizeof(tmp)) {
		fprintf(stderr, "stamp: path too long: %s\n", argv[1]);
		return 2;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		perror(tmp);
		return 1;
	}
	fprintf(f, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	if (fclose(f) != 0 || rename(tmp, argv[1]) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
