/*
 * cannedhttp.c - an HTTP peer with canned answers, for testing what a
 * client does with answers a real server would never give.
 *
 *   cannedhttp PORTFILE SECONDS CREATE_BODY_FILE OTHER_BODY_FILE
 *
 * Listens on a free loopback port (written to PORTFILE), and answers every
 * request 200 with application/json: the first file's bytes for a path
 * containing "/create", the second's for any other. Stops after SECONDS
 * (bounded). Prints the running count of requests answered, a line each.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	buf = malloc(65536);
	*len = buf ? fread(buf, 1, 65535, f) : 0;
	fclose(f);
	return buf;
}

/* Reads the request head (up to the blank line); 1 when it is a create. */
static int
read_head(int fd)
{
	char buf[8192];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(buf) - 1) {
		r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	buf[n] = '\0';
	return strstr(buf, "/create") != NULL;
}

static void
answer(int fd, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close"
	    "\r\n\r\n", len);

	(void)!send(fd, head, (size_t)n, MSG_NOSIGNAL);
	(void)!send(fd, body, len, MSG_NOSIGNAL);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t slen = sizeof(sa);
	size_t create_len, other_len;
	char *create, *other;
	time_t end;
	int lfd, one = 1, served = 0;
	FILE *pf;

	if (argc != 5) {
		fprintf(stderr, "usage: cannedhttp PORTFILE SECONDS CREATE_BODY "
		    "OTHER_BODY\n");
		return 1;
	}
	create = slurp(argv[3], &create_len);
	other = slurp(argv[4], &other_len);
	if (create == NULL || other == NULL) {
		fprintf(stderr, "cannedhttp: cannot read the body files\n");
		return 1;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 64) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &slen) == -1) {
		perror("cannedhttp: listen");
		return 1;
	}
	if ((pf = fopen(argv[1], "w")) == NULL)
		return 1;
	fprintf(pf, "%d\n", ntohs(sa.sin_port));
	fclose(pf);
	end = time(NULL) + atoi(argv[2]);
	while (time(NULL) < end) {
		struct pollfd p = { lfd, POLLIN, 0 };
		int fd;

		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		if (read_head(fd))
			answer(fd, create, create_len);
		else
			answer(fd, other, other_len);
		served++;
		close(fd);
		printf("%d\n", served);
		fflush(stdout);
	}
	free(create);
	free(other);
	close(lfd);
	return 0;
}
