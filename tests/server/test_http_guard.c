/*
 * test_http_guard.c - the connection guard's policy, on socket pairs: a
 * waiting connection is shut down past the request timeout and not
 * before; one whose answer is being sent never; a keep-alive connection's
 * clock restarts after each answer; under pressure (7/8 of the limit)
 * every connection waiting longer than the grace is evicted, and a fresh
 * one is not; each is shut down once; counts follow opens and closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "expect.h"
#include "http_guard.h"

#define S 1000000LL

typedef struct pair {
	int ours, theirs;	/* ours is what the guard shuts down */
} pair;

static pair
make_pair(void)
{
	int sv[2];
	pair p = {-1, -1};

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		p.ours = sv[0];
		p.theirs = sv[1];
		fcntl(p.theirs, F_SETFL, O_NONBLOCK);
	}
	return p;
}

/* 1 when the peer sees an end of stream: the guard shut ours down. */
static int
was_shut(pair p)
{
	char c;
	ssize_t n = read(p.theirs, &c, 1);

	return n == 0;
}

static void
close_pair(pair p)
{
	close(p.ours);
	close(p.theirs);
}

static void
test_deadline(void)
{
	http_guard *g = http_guard_new(100, 10 * S);
	pair a = make_pair(), b = make_pair(), c = make_pair();
	http_guard_conn *ca = http_guard_open(g, a.ours, 0);
	http_guard_conn *cb = http_guard_open(g, b.ours, 0);
	http_guard_conn *cc = http_guard_open(g, c.ours, 0);

	EXPECT(http_guard_count(g) == 3, "3 open, counted %d",
	    http_guard_count(g));
	http_guard_answering(g, cb);		/* b is being answered */
	http_guard_answering(g, cc);		/* c answered at 8 s ... */
	http_guard_waiting(g, cc, 8 * S);	/* ... waits again from 8 s */
	EXPECT(http_guard_sweep(g, 10 * S) == 0, "nothing is due at 10 s");
	EXPECT(!was_shut(a), "a waiting connection is not shut at the limit");
	EXPECT(http_guard_sweep(g, 10 * S + 1) == 1, "one is due after 10 s");
	EXPECT(was_shut(a), "the waiting connection is shut after its deadline");
	EXPECT(!was_shut(b), "one being answered is never shut");
	EXPECT(!was_shut(c), "a keep-alive connection's clock restarts");
	EXPECT(http_guard_sweep(g, 30 * S) == 1, "c is due at 30 s, a not again");
	EXPECT(was_shut(c), "c is shut after its own deadline");
	EXPECT(!was_shut(b), "b is still being answered");
	http_guard_close(g, ca);
	http_guard_close(g, cb);
	http_guard_close(g, cc);
	EXPECT(http_guard_count(g) == 0, "all closed, counted %d",
	    http_guard_count(g));
	close_pair(a);
	close_pair(b);
	close_pair(c);
	http_guard_free(g);
}

static void
test_pressure(void)
{
	enum { MAX = 16 };
	http_guard *g = http_guard_new(MAX, 60 * S);
	pair p[MAX];
	http_guard_conn *c[MAX];
	int i, shut = 0;

	/* 13 old waiting connections: below 7/8 of 16 (14), no pressure. */
	for (i = 0; i < 13; i++) {
		p[i] = make_pair();
		c[i] = http_guard_open(g, p[i].ours, 0);
	}
	EXPECT(http_guard_sweep(g, 5 * S) == 0, "no eviction below 14 of 16");
	/* A 14th, fresh one: pressure; the old ones go, the fresh one not. */
	p[13] = make_pair();
	c[13] = http_guard_open(g, p[13].ours, 5 * S);
	EXPECT(http_guard_sweep(g, 5 * S + HTTP_GUARD_EVICT_GRACE_US) == 13,
	    "the 13 connections waiting past the grace are evicted");
	for (i = 0; i < 13; i++)
		shut += was_shut(p[i]);
	EXPECT(shut == 13, "13 evicted, saw %d", shut);
	EXPECT(!was_shut(p[13]), "a connection within its grace stays");
	for (i = 0; i < 14; i++) {
		http_guard_close(g, c[i]);
		close_pair(p[i]);
	}
	http_guard_free(g);
}

int
main(void)
{
	test_deadline();
	test_pressure();
	return expect_report("test_http_guard");
}
