/*
 * proc.c - process identity from /proc/<pid>/stat.
 *
 * The comm field (2) may hold spaces and parentheses, so parsing starts
 * after the last ')'. Field 3 is the state, field 22 the start time.
 */
#include "proc.h"

#include <stdio.h>
#include <string.h>

static int
read_stat(pid_t pid, char *state, char *start, size_t len)
{
	char path[64], line[1024], *p;
	size_t n;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	if ((p = strrchr(line, ')')) == NULL || p[1] != ' ')
		return -1;
	p += 2;			/* field 3 */
	*state = *p;
	for (field = 3; field < 22 && p != NULL; field++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL)
		return -1;
	n = strcspn(p, " ");
	if (n >= len)
		return -1;
	memcpy(start, p, n);
	start[n] = '\0';
	return 0;
}

int
proc_start_time(pid_t pid, char *buf, size_t len)
{
	char state;

	return read_stat(pid, &state, buf, len);
}

int
proc_is_same(pid_t pid, const char *start)
{
	char state, now[32];

	if (pid <= 0 || read_stat(pid, &state, now, sizeof(now)) == -1)
		return 0;
	if (state == 'Z' || state == 'X')
		return 0;
	return strcmp(now, start) == 0;
}
