/*
 * lake_store_s3.c - the S3 backend of the storage seam, over s3.h.
 *
 * A name s3://bucket/key maps to one object; a "folder" is a key prefix
 * ending in '/'. Each thread keeps one client per bucket (clients are not
 * thread-safe; their connections stay alive between calls), made on first
 * use from the AWS CLI's settings (s3_config_from_env): credentials never
 * come from anywhere else.
 *
 * Held objects: a stream closed without sync (a data file the caller
 * makes durable later, a commit's prepared temp file) stays in memory in
 * a process-wide table until a barrier uploads it, or lake_store_link
 * gives it its final name (one PUT, conditional for a commit), or it is
 * deleted (no request at all). So a commit of N data files costs N PUTs
 * sent max_parallel at a time, plus one conditional PUT, and no temp
 * object is ever written to the bucket. The table is shared by every
 * thread (a writer's barrier runs on a helper thread), under a mutex.
 *
 * Errors: the client's messages already name the bucket, key, HTTP status
 * and S3 code; they are copied as they are. NOT_FOUND and EXISTS become
 * the seam's results of those names; transient faults and an unreachable
 * endpoint (after the client's retries) are LAKE_ERR_IO, the rest
 * LAKE_ERR_FAILED.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lake_store_internal.h"
#include "s3.h"

#define CLIENTS_MAX 4

typedef struct thread_clients {
	struct {
		char bucket[S3_BUCKET_MAX + 1];
		s3_client *c;
	} slot[CLIENTS_MAX];
	int n;
} thread_clients;

typedef struct held {
	char *name;
	lake_buf buf;
} held;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t clients_key;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every thread's clients, for lake_store_stats_get, and the counts of
 * the clients freed already. */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static s3_client **live;
static size_t nlive;
static lake_store_stats retired;
static held *held_objs;
static size_t nheld, held_cap;

static void init_once(void);

static void
stats_add(lake_store_stats *to, const s3_stats *s)
{
	to->requests += s->requests;
	to->retries += s->retries;
	to->bytes_up += s->bytes_up;
	to->bytes_down += s->bytes_down;
}

static void
client_retire(s3_client *c)
{
	s3_stats st;

	pthread_mutex_lock(&stats_lock);
	s3_client_stats(c, &st);
	stats_add(&retired, &st);
	for (size_t i = 0; i < nlive; i++)
		if (live[i] == c) {
			live[i] = live[--nlive];
			break;
		}
	pthread_mutex_unlock(&stats_lock);
	s3_client_free(c);
}

static int
client_register(s3_client *c)
{
	s3_client **p;

	pthread_mutex_lock(&stats_lock);
	if ((p = realloc(live, (nlive + 1) * sizeof(*p))) != NULL) {
		live = p;
		live[nlive++] = c;
	}
	pthread_mutex_unlock(&stats_lock);
	return p != NULL ? 0 : -1;
}

static void
clients_free(void *p)
{
	thread_clients *t = p;

	if (t == NULL)
		return;
	for (int i = 0; i < t->n; i++)
		client_retire(t->slot[i].c);
	free(t);
}

static void
drop_all_held(void)
{
	pthread_mutex_lock(&held_lock);
	for (size_t i = 0; i < nheld; i++) {
		free(held_objs[i].name);
		lake_buf_free(&held_objs[i].buf);
	}
	free(held_objs);
	held_objs = NULL;
	nheld = held_cap = 0;
	pthread_mutex_unlock(&held_lock);
}

void
lake_store_shutdown(void)
{
	thread_clients *t;

	pthread_once(&once, init_once);
	t = pthread_getspecific(clients_key);
	pthread_setspecific(clients_key, NULL);
	clients_free(t);
}

static void
at_exit(void)
{
	lake_store_shutdown();
	drop_all_held();
	pthread_mutex_lock(&stats_lock);
	free(live);
	live = NULL;
	nlive = 0;
	pthread_mutex_unlock(&stats_lock);
}

/*
 * A child of fork(2) must not use its parent's connections (both would
 * read one socket): it starts with no client. The parent's are left
 * unfreed in the child, which a child that goes on to exec or _exit
 * never notices.
 */
static void
after_fork_child(void)
{
	pthread_setspecific(clients_key, NULL);
	nlive = 0;
}

static void
init_once(void)
{
	pthread_key_create(&clients_key, clients_free);
	pthread_atfork(NULL, NULL, after_fork_child);
	atexit(at_exit);
}

static int
from_s3(const s3_err *se, lake_err *err)
{
	lake_err_kind kind = se->kind == S3_ERR_TRANSIENT ||
	    se->kind == S3_ERR_UNREACHABLE ? LAKE_ERR_IO : LAKE_ERR_FAILED;

	lake_err_set_kind(err, kind, "%s", se->msg);
	if (se->kind == S3_ERR_NOT_FOUND)
		return LAKE_STORE_NOT_FOUND;
	if (se->kind == S3_ERR_EXISTS)
		return LAKE_STORE_EXISTS;
	return LAKE_STORE_ERROR;
}

/* The bucket and key of a name; the client for the bucket. */
static s3_client *
resolve(const char *name, s3_uri *u, lake_err *err)
{
	const char *text = name;
	char fixed[S3_KEY_MAX + S3_BUCKET_MAX + 16];
	thread_clients *t;
	s3_config cfg;
	s3_err se = { 0 };
	s3_client *c;

	/* s3a:// as Spark spells it: the same bucket and key. */
	if (strncmp(name, "s3a://", 6) == 0) {
		snprintf(fixed, sizeof(fixed), "s3://%s", name + 6);
		text = fixed;
	}
	if (s3_uri_parse(text, u, &se) != 0) {
		from_s3(&se, err);
		return NULL;
	}
	pthread_once(&once, init_once);
	if ((t = pthread_getspecific(clients_key)) == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL) {
			lake_err_set(err, "out of memory");
			return NULL;
		}
		pthread_setspecific(clients_key, t);
	}
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->slot[i].bucket, u->bucket) == 0)
			return t->slot[i].c;
	if (s3_config_from_env(&cfg, &se) != 0) {
		from_s3(&se, err);
		return NULL;
	}
	c = s3_client_new(&cfg, u->bucket, &se);
	s3_config_wipe(&cfg);
	if (c == NULL) {
		from_s3(&se, err);
		return NULL;
	}
	if (client_register(c) == -1) {
		s3_client_free(c);
		lake_err_set(err, "out of memory");
		return NULL;
	}
	if (t->n == CLIENTS_MAX) {	/* the oldest goes */
		client_retire(t->slot[0].c);
		memmove(&t->slot[0], &t->slot[1],
		    (CLIENTS_MAX - 1) * sizeof(t->slot[0]));
		t->n--;
	}
	snprintf(t->slot[t->n].bucket, sizeof(t->slot[t->n].bucket), "%s",
	    u->bucket);
	t->slot[t->n++].c = c;
	return c;
}

/* Reads counters of clients other threads own: call it when they are
 * idle (a stage's end). */
void
lake_store_stats_get(lake_store_stats *out)
{
	pthread_mutex_lock(&stats_lock);
	*out = retired;
	for (size_t i = 0; i < nlive; i++) {
		s3_stats s;

		s3_client_stats(live[i], &s);
		stats_add(out, &s);
	}
	pthread_mutex_unlock(&stats_lock);
}

int
lake_s3_check_root(const char *name, lake_err *err)
{
	s3_config cfg;
	s3_uri u;
	s3_err se = { 0 };
	char fixed[S3_KEY_MAX + S3_BUCKET_MAX + 16];
	const char *text = name;

	if (strncmp(name, "s3a://", 6) == 0) {
		snprintf(fixed, sizeof(fixed), "s3://%s", name + 6);
		text = fixed;
	}
	if (s3_uri_parse(text, &u, &se) != 0 ||
	    s3_config_from_env(&cfg, &se) != 0) {
		from_s3(&se, err);
		return LAKE_STORE_ERROR;
	}
	s3_config_wipe(&cfg);
	return 0;
}

/* --- held objects -------------------------------------------------- */

/* Index of name in the table, or -1; call under held_lock. */
static ssize_t
held_find(const char *name)
{
	for (size_t i = 0; i < nheld; i++)
		if (strcmp(held_objs[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Takes held object name out of the table into *buf: 1, or 0 when it is
 * not held. */
static int
held_take(const char *name, lake_buf *buf)
{
	ssize_t i;

	pthread_mutex_lock(&held_lock);
	if ((i = held_find(name)) >= 0) {
		*buf = held_objs[i].buf;
		free(held_objs[i].name);
		held_objs[i] = held_objs[--nheld];
	}
	pthread_mutex_unlock(&held_lock);
	return i >= 0;
}

/* Puts it (back) in the table, taking over name's copy and buf. */
static int
held_put(const char *name, lake_buf *buf)
{
	int rc = -1;

	pthread_mutex_lock(&held_lock);
	if (nheld == held_cap) {
		size_t cap = held_cap ? held_cap * 2 : 64;
		held *p = realloc(held_objs, cap * sizeof(*p));

		if (p == NULL)
			goto out;
		held_objs = p;
		held_cap = cap;
	}
	if ((held_objs[nheld].name = strdup(name)) == NULL)
		goto out;
	held_objs[nheld].buf = *buf;
	nheld++;
	memset(buf, 0, sizeof(*buf));
	rc = 0;
out:
	pthread_mutex_unlock(&held_lock);
	return rc;
}

int
lake_s3_hold(lake_out *o, lake_err *err)
{
	if (o->buf.data == NULL)
		lake_buf_append(&o->buf, "", 0);	/* an empty object */
	if (held_put(o->name, &o->buf) == -1) {
		lake_err_set(err, "%s: out of memory", o->name);
		return -1;
	}
	return 0;
}

/* --- calls --------------------------------------------------------- */

typedef struct stat_find {
	const char *key;
	uint64_t size;
	int64_t mtime_us;
	int found;
} stat_find;

static int
stat_one(const s3_object *o, void *arg)
{
	stat_find *f = arg;

	if (strcmp(o->key, f->key) == 0) {
		f->found = 1;
		f->size = o->size;
		f->mtime_us = o->mtime_us;
	}
	return 1;	/* the key itself sorts first under its own prefix */
}

/*
 * A listing of the key as prefix, not a HEAD: it carries LastModified,
 * which log retention and vacuum decide on, in the same one request.
 */
int
lake_s3_stat(const char *name, uint64_t *size, int64_t *mtime_us,
    lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	stat_find f = { 0 };
	int rc;

	pthread_mutex_lock(&held_lock);
	rc = held_find(name) >= 0;
	if (rc) {
		if (size != NULL)
			*size = held_objs[held_find(name)].buf.len;
		if (mtime_us != NULL)
			*mtime_us = clock_now_us();
	}
	pthread_mutex_unlock(&held_lock);
	if (rc)
		return 0;
	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	f.key = u.prefix;
	if (s3_list_objects(c, u.prefix, NULL, stat_one, &f, &se) < 0)
		return from_s3(&se, err);
	if (!f.found) {
		lake_err_set(err, "s3://%s/%s: no such key", u.bucket,
		    u.prefix);
		return LAKE_STORE_NOT_FOUND;
	}
	if (size != NULL)
		*size = f.size;
	if (mtime_us != NULL)
		*mtime_us = f.mtime_us;
	return 0;
}

int
lake_s3_read_all(const char *name, uint8_t **data, size_t *len,
    lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	uint8_t *d, *grown;
	size_t n;

	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	if (s3_get_alloc(c, u.prefix, &d, &n, &se) != 0)
		return from_s3(&se, err);
	if ((grown = realloc(d, n + 1)) == NULL) {
		free(d);
		lake_err_set(err, "%s: out of memory", name);
		return LAKE_STORE_ERROR;
	}
	grown[n] = '\0';
	*data = grown;
	*len = n;
	return 0;
}

int
lake_s3_read_range(const char *name, uint64_t off, size_t len, void *buf,
    size_t *got, uint64_t *object_size, lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };

	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	if (s3_get_range(c, u.prefix, off, len, buf, got, object_size,
	    &se) != 0)
		return from_s3(&se, err);
	return 0;
}

int
lake_s3_read_tail(const char *name, size_t len, void *buf, size_t *got,
    uint64_t *object_size, lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };

	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	if (s3_get_tail(c, u.prefix, len, buf, got, object_size, &se) != 0)
		return from_s3(&se, err);
	return 0;
}

int
lake_s3_write(const char *name, const void *data, size_t len,
    int if_absent, lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	int rc;

	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	rc = if_absent ? s3_put_if_absent(c, u.prefix, data, len, &se) :
	    s3_put(c, u.prefix, data, len, &se);
	return rc == 0 ? 0 : from_s3(&se, err);
}

int
lake_s3_link(const char *tmp, const char *final, int noreplace,
    lake_err *err)
{
	lake_buf b = { 0 };
	int rc;

	if (held_take(tmp, &b)) {
		rc = lake_s3_write(final, b.data, b.len, noreplace, err);
		if (rc != 0 && held_put(tmp, &b) == 0)
			return rc;	/* the caller deletes it */
		lake_buf_free(&b);
		return rc;
	}
	/* Uploaded already: copy through here (S3 has no rename). */
	if ((rc = lake_s3_read_all(tmp, &b.data, &b.len, err)) != 0)
		return rc;
	rc = lake_s3_write(final, b.data, b.len, noreplace, err);
	free(b.data);
	if (rc == 0)
		rc = lake_s3_delete(tmp, err);
	return rc;
}

int
lake_s3_delete(const char *name, lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	lake_buf b = { 0 };

	if (held_take(name, &b)) {	/* never sent: nothing to delete */
		lake_buf_free(&b);
		return 0;
	}
	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	return s3_delete(c, u.prefix, &se) == 0 ? 0 : from_s3(&se, err);
}

int
lake_s3_sync_file(const char *name, lake_err *err)
{
	lake_buf b = { 0 };
	int rc;

	if (!held_take(name, &b))
		return 0;
	rc = lake_s3_write(name, b.data, b.len, 0, err);
	lake_buf_free(&b);
	return rc;
}

/* Uploads held objects taken out of the table (n of them in mine, which
 * this frees) at once: up to the client's max_parallel PUTs in flight. */
static int
upload_held(held *mine, size_t n, lake_err *err)
{
	s3_put_item *items = NULL;
	s3_uri *uris = NULL;
	s3_client *c = NULL;
	s3_err se = { 0 };
	int rc = LAKE_STORE_ERROR;

	if (n == 0) {
		free(mine);
		return 0;
	}
	if ((items = calloc(n, sizeof(*items))) == NULL ||
	    (uris = calloc(n, sizeof(*uris))) == NULL) {
		lake_err_set(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		s3_client *ci = resolve(mine[i].name, &uris[i], err);

		if (ci == NULL)
			goto out;
		if (c != NULL && ci != c) {
			lake_err_set(err, "%s: one barrier over two buckets",
			    mine[i].name);
			goto out;
		}
		c = ci;
		items[i].key = uris[i].prefix;
		items[i].data = mine[i].buf.data;
		items[i].len = mine[i].buf.len;
	}
	if (s3_put_many(c, items, n, &se) != 0) {
		rc = from_s3(&se, err);
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		free(mine[i].name);
		lake_buf_free(&mine[i].buf);
	}
	free(mine);
	free(items);
	free(uris);
	return rc;
}

/* Takes the held objects that match out of the table. */
static held *
take_matching(int (*match)(const char *name, const void *arg),
    const void *arg, size_t *n, lake_err *err)
{
	held *mine;

	*n = 0;
	pthread_mutex_lock(&held_lock);
	if ((mine = calloc(nheld + 1, sizeof(*mine))) == NULL) {
		pthread_mutex_unlock(&held_lock);
		lake_err_set(err, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < nheld;) {
		if (match(held_objs[i].name, arg)) {
			mine[(*n)++] = held_objs[i];
			held_objs[i] = held_objs[--nheld];
		} else
			i++;
	}
	pthread_mutex_unlock(&held_lock);
	return mine;
}

static int
under_dir(const char *name, const void *arg)
{
	const char *dir = arg;
	size_t dlen = strlen(dir);

	return strncmp(name, dir, dlen) == 0 && name[dlen] == '/';
}

int
lake_s3_sync_tree(const char *dir, lake_err *err)
{
	size_t n;
	held *mine = take_matching(under_dir, dir, &n, err);

	return mine == NULL ? LAKE_STORE_ERROR : upload_held(mine, n, err);
}

typedef struct name_set {
	const char *const *names;
	size_t n;
} name_set;

static int
in_set(const char *name, const void *arg)
{
	const name_set *s = arg;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}

int
lake_s3_sync_names(const char *const *names, size_t n, lake_err *err)
{
	name_set set = { names, n };
	size_t k;
	held *mine = take_matching(in_set, &set, &k, err);

	return mine == NULL ? LAKE_STORE_ERROR : upload_held(mine, k, err);
}

typedef struct list_ctx {
	size_t prefix_len;
	int flags;
	int (*fn)(const lake_store_entry *e, void *arg);
	void *arg;
} list_ctx;

static int
list_one(const s3_object *o, void *arg)
{
	list_ctx *l = arg;
	const char *rel = o->key + l->prefix_len;
	lake_store_entry e = { rel, (int64_t)o->size, o->mtime_us };

	if (l->flags & LAKE_LIST_TREE) {
		if (rel[0] == '_' || rel[0] == '.' || strstr(rel, "/.") != NULL)
			return 0;
	} else if (strchr(rel, '/') != NULL)
		return 0;
	return l->fn(&e, l->arg) != 0;
}

int
lake_s3_list(const char *dir, const char *start_after, int flags,
    int (*fn)(const lake_store_entry *e, void *arg), void *arg,
    lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	char prefix[S3_KEY_MAX + 2], start[2 * S3_KEY_MAX + 2];
	list_ctx l = { 0, flags, fn, arg };

	if ((c = resolve(dir, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	if (snprintf(prefix, sizeof(prefix), "%s%s", u.prefix,
	    u.prefix[0] != '\0' ? "/" : "") >= (int)sizeof(prefix) ||
	    snprintf(start, sizeof(start), "%s%s", prefix,
	    start_after ? start_after : "") >= (int)sizeof(start)) {
		lake_err_set(err, "%s: key too long", dir);
		return LAKE_STORE_ERROR;
	}
	l.prefix_len = strlen(prefix);
	if (s3_list_objects(c, prefix, start_after ? start : NULL, list_one,
	    &l, &se) < 0)
		return from_s3(&se, err);
	return 0;
}

/* The prefetch's way in (lake_store_s3_prefetch.c). */
s3_client *
lake_s3_client(const char *name, s3_uri *u, lake_err *err)
{
	return resolve(name, u, err);
}

int
lake_s3_error(const s3_err *se, lake_err *err)
{
	return from_s3(se, err);
}
