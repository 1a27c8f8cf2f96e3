/*
 * slowclient.c - slow HTTP clients for the server's connection tests.
 *
 *   slowclient PORT CONNECTIONS SECONDS INTERVAL_MS
 *
 * Opens CONNECTIONS connections to 127.0.0.1:PORT, sends each a request
 * line and then one header line every INTERVAL_MS, never finishing the
 * head, for SECONDS at most (bounded, loopback only). Prints one line:
 *   opened=N closed_by_server=K still_open=M longest_open_ms=T
 * where longest_open_ms is the longest a connection lived before the
 * server closed it. Exit 0, or 1 when it could not run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 4096

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int
open_one(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* 1 when the server closed fd (end of stream or reset). */
static int
closed_by_peer(int fd)
{
	char buf[512];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			continue;	/* an answer (e.g. 408): keep reading */
		if (n == 0)
			return 1;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	}
}

int
main(int argc, char **argv)
{
	static int fds[MAX_CONNECTIONS];
	static long long opened_at[MAX_CONNECTIONS];
	const char *line = "GET /v1/submissions/readyz HTTP/1.1\r\nHost: x\r\n";
	int port, n, opened = 0, closed = 0;
	long long seconds, interval, end, next_send, longest = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: slowclient PORT CONNECTIONS SECONDS "
		    "INTERVAL_MS\n");
		return 1;
	}
	port = atoi(argv[1]);
	n = atoi(argv[2]);
	seconds = atoll(argv[3]);
	interval = atoll(argv[4]);
	if (port <= 0 || n <= 0 || n > MAX_CONNECTIONS || seconds <= 0 ||
	    seconds > 600 || interval <= 0) {
		fprintf(stderr, "slowclient: bad arguments\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		fds[i] = open_one(port);
		if (fds[i] == -1)
			continue;
		opened_at[i] = now_ms();
		opened++;
		/* A failed send shows as a close below. */
		(void)!send(fds[i], line, strlen(line), MSG_NOSIGNAL);
	}
	end = now_ms() + seconds * 1000;
	next_send = now_ms() + interval;
	while (now_ms() < end) {
		long long t;

		usleep(20000);
		t = now_ms();
		for (int i = 0; i < n; i++) {
			if (fds[i] == -1 || !closed_by_peer(fds[i]))
				continue;
			if (t - opened_at[i] > longest)
				longest = t - opened_at[i];
			close(fds[i]);
			fds[i] = -1;
			closed++;
		}
		if (t < next_send)
			continue;
		next_send = t + interval;
		for (int i = 0; i < n; i++)
			if (fds[i] != -1)
				(void)!send(fds[i], "X-Slow: 1\r\n", 11,
				    MSG_NOSIGNAL);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] != -1)
			close(fds[i]);
	printf("opened=%d closed_by_server=%d still_open=%d "
	    "longest_open_ms=%lld\n", opened, closed, opened - closed, longest);
	return 0;
}
