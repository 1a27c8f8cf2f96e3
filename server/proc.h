/*
 * proc.h - facts about processes from /proc, to tell a live runner from a
 * recycled pid after a server restart.
 *
 * A pid alone is not an identity: after a crash the kernel may give it to
 * an unrelated process. The pair (pid, start time in clock ticks since
 * boot, field 22 of /proc/<pid>/stat) is.
 */
#ifndef SERVER_PROC_H
#define SERVER_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Writes pid's start time as text; -1 if the process does not exist. */
int proc_start_time(pid_t pid, char *buf, size_t len);
/* 1 if pid is alive (not a zombie) and started at start. */
int proc_is_same(pid_t pid, const char *start);

#endif
