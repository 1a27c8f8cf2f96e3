/*
 * freeport - print a TCP port on 127.0.0.1 that is free right now.
 *
 * Test harnesses use it for servers that cannot report the port they bound
 * themselves (PostgreSQL). It binds port 0, reads back what the kernel chose
 * and closes the socket; a tiny race remains, which harnesses absorb by
 * retrying the start on a new port.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(void)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1) {
		perror("freeport: socket");
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) == -1) {
		perror("freeport: bind");
		close(fd);
		return 1;
	}
	printf("%d\n", ntohs(addr.sin_port));
	close(fd);
	return 0;
}
