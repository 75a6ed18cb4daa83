/*
 * watchtool.c: drives etcd_watch and the replay calls (etcd_watch.h) for
 * the integration tests.  Not installed.
 *
 *   watchtool watch URL START [UNTIL [SECONDS [PROGRESS]]]
 *       watches from START; one line per event, in revision order:
 *         REV put|del KEY VALUE CREATE MOD VERSION LEASE
 *       (KEY and VALUE base64, "-" when empty; a del has value "-"),
 *       "lease ID GRANTED" the first time a lease id appears (its TTL
 *       from etcd_lease_ttl, 0 when gone), "progress REV" for each
 *       progress notification.  Stops (exit 0) when revision UNTIL was
 *       delivered and PROGRESS (default 0) progress lines were printed,
 *       or fails (exit 3) after SECONDS (default 30).  A compacted start
 *       prints "compacted REV" on stderr and exits 4.
 *   watchtool apply URL FILE
 *       applies the revisions of a file in that form, one etcd_txn_apply
 *       each, after re-creating (etcd_lease_grant_id) the leases of its
 *       lease lines that etcd_lease_list does not show; fails unless
 *       every revision comes out equal to the original's.  Prints
 *       "applied N revisions LAST".
 *
 * WATCHTOOL_STALL=S sets the client's stall timeout to S seconds, which a
 * watch must not be cut by.  Exits 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/clock.h"
#include "etcd/etcd.h"
#include "etcd/etcd_watch.h"

struct tool {
	struct etcd_client *side;   /* a second client for lease look-ups */
	int64_t until, progress_want, progress_seen, last;
	double deadline;
	int64_t *leases;
	size_t n_leases;
	int timed_out;
};

static void
put_b64(const uint8_t *p, size_t n)
{
	char *s;

	if (n == 0) {
		fputs("-", stdout);
		return;
	}
	if ((s = malloc(LB_B64_LEN(n, 1) + 1)) == NULL) {
		fprintf(stderr, "watchtool: out of memory\n");
		exit(1);
	}
	s[lb_b64_encode(p, n, s, 1)] = '\0';
	fputs(s, stdout);
	free(s);
}

static int
on_revision(void *arg, int64_t rev, const struct etcd_kv_event *ev, size_t n,
    struct lb_err *err)
{
	struct tool *t = arg;
	int64_t granted, remaining;
	size_t i, j;

	for (i = 0; i < n; i++) {
		const struct etcd_kv_event *e = &ev[i];
		if (e->lease != 0) {
			for (j = 0; j < t->n_leases && t->leases[j] != e->lease; j++)
				;
			if (j == t->n_leases) {
				int64_t *nv = realloc(t->leases, (j + 1) * sizeof(*nv));
				if (nv == NULL)
					return lb_err_set(err, LB_E_NOMEM, "out of memory");
				t->leases = nv;
				t->leases[t->n_leases++] = e->lease;
				granted = 0;
				if (etcd_lease_ttl(t->side, e->lease, &granted, &remaining,
				    err) < 0 && err->code != LB_E_NOTFOUND)
					return err->code;
				printf("lease %lld %lld\n", (long long)e->lease,
				    (long long)granted);
			}
		}
		printf("%lld %s ", (long long)rev, e->type == ETCD_EV_PUT ? "put" : "del");
		put_b64(e->key, e->key_len);
		putchar(' ');
		put_b64(e->value, e->value_len);
		printf(" %lld %lld %lld %lld\n", (long long)e->create_revision,
		    (long long)e->mod_revision, (long long)e->version,
		    (long long)e->lease);
	}
	fflush(stdout);
	t->last = rev;
	return 0;
}

static int
on_progress(void *arg, int64_t rev, struct lb_err *err)
{
	struct tool *t = arg;

	(void)err;
	printf("progress %lld\n", (long long)rev);
	fflush(stdout);
	t->progress_seen++;
	if (rev > t->last)
		t->last = rev;
	return 0;
}

static int
on_tick(void *arg, struct lb_err *err)
{
	struct tool *t = arg;

	(void)err;
	if (t->last >= t->until && t->progress_seen >= t->progress_want)
		return 1;
	if (lb_mono_now() > t->deadline) {
		t->timed_out = 1;
		return 1;
	}
	return 0;
}

static int
do_watch(struct etcd_client *c, int argc, char **argv, struct lb_err *err)
{
	struct etcd_watch_cb cb = { on_revision, on_progress, on_tick, NULL, NULL };
	struct tool t;
	int64_t compact = 0;
	int r;

	memset(&t, 0, sizeof(t));
	t.until = argc > 4 ? strtoll(argv[4], NULL, 10) : 0;
	t.deadline = lb_mono_now() + (argc > 5 ? atof(argv[5]) : 30);
	t.progress_want = argc > 6 ? strtoll(argv[6], NULL, 10) : 0;
	cb.arg = &t;
	if ((r = etcd_open(argv[2], NULL, &t.side, err)) < 0)
		return r;
	r = etcd_watch(c, strtoll(argv[3], NULL, 10), &cb, &compact, err);
	etcd_close(t.side);
	free(t.leases);
	if (r == LB_E_COMPACTED) {
		fprintf(stderr, "compacted %lld\nwatchtool: %s: %s\n", (long long)compact,
		    lb_err_name(r), err->msg);
		exit(4);
	}
	if (r == 0 && t.timed_out) {
		fprintf(stderr, "watchtool: timed out at revision %lld\n", (long long)t.last);
		exit(3);
	}
	return r;
}

/* Decodes a base64 field ("-": empty) into a malloc'd buffer. */
static uint8_t *
unb64(const char *s, size_t *n)
{
	size_t len = strlen(s);
	uint8_t *out = malloc(len + 1);

	*n = 0;
	if (out == NULL)
		return NULL;
	if (strcmp(s, "-") != 0 && lb_b64_decode(s, len, out, len, n, 1) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

struct pending {
	struct etcd_kv_event *ev;
	uint8_t **bufs;
	size_t n, cap;
	int64_t rev;
};

static void
pending_clear(struct pending *p)
{
	for (size_t i = 0; i < 2 * p->n; i++)
		free(p->bufs[i]);
	p->n = 0;
}

static int
flush(struct etcd_client *c, struct pending *p, long *applied, struct lb_err *err)
{
	int64_t rev;
	int r;

	if (p->n == 0)
		return 0;
	if ((r = etcd_txn_apply(c, p->ev, p->n, &rev, err)) < 0)
		return r;
	if (rev != p->rev)
		return lb_err_set(err, LB_E_CORRUPT, "revision %lld came out as %lld",
		    (long long)p->rev, (long long)rev);
	(*applied)++;
	pending_clear(p);
	return 0;
}

static int
do_apply(struct etcd_client *c, const char *path, struct lb_err *err)
{
	struct pending p = { NULL, NULL, 0, 0, 0 };
	int64_t *have = NULL;
	size_t n_have = 0, i, cap = 0;
	char *line = NULL, f[8][64];
	char *k64, *v64;
	long applied = 0;
	ssize_t got;
	FILE *fp;
	int r = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return lb_err_set(err, LB_E_IO, "cannot open %s", path);
	if ((r = etcd_lease_list(c, &have, &n_have, err)) < 0)
		goto out;
	while ((got = getline(&line, &cap, fp)) > 0) {
		long long a, b;
		if (sscanf(line, "lease %lld %lld", &a, &b) == 2) {
			for (i = 0; i < n_have && have[i] != a; i++)
				;
			if (i == n_have &&
			    (r = etcd_lease_grant_id(c, a, b > 0 ? b : 600, err)) < 0)
				goto out;
			continue;
		}
		if (strncmp(line, "progress ", 9) == 0)
			continue;
		k64 = malloc((size_t)got);
		v64 = malloc((size_t)got);
		if (k64 == NULL || v64 == NULL ||
		    sscanf(line, "%63s %7s %s %s %63s %63s %63s %63s", f[0], f[1], k64,
		    v64, f[4], f[5], f[6], f[7]) != 8) {
			free(k64);
			free(v64);
			r = lb_err_set(err, LB_E_CORRUPT, "bad line: %.60s", line);
			goto out;
		}
		int64_t rev = strtoll(f[0], NULL, 10);
		if (rev != p.rev && (r = flush(c, &p, &applied, err)) < 0) {
			free(k64);
			free(v64);
			goto out;
		}
		p.rev = rev;
		if (p.n == p.cap) {
			size_t nc = p.cap ? 2 * p.cap : 16;
			p.ev = realloc(p.ev, nc * sizeof(*p.ev));
			p.bufs = realloc(p.bufs, 2 * nc * sizeof(*p.bufs));
			if (p.ev == NULL || p.bufs == NULL) {
				fprintf(stderr, "watchtool: out of memory\n");
				exit(1);
			}
			p.cap = nc;
		}
		struct etcd_kv_event *e = &p.ev[p.n];
		memset(e, 0, sizeof(*e));
		e->type = strcmp(f[1], "put") == 0 ? ETCD_EV_PUT : ETCD_EV_DELETE;
		p.bufs[2 * p.n] = unb64(k64, &e->key_len);
		p.bufs[2 * p.n + 1] = unb64(v64, &e->value_len);
		free(k64);
		free(v64);
		e->key = p.bufs[2 * p.n];
		e->value = p.bufs[2 * p.n + 1];
		e->lease = strtoll(f[7], NULL, 10);
		p.n++;
		if (e->key == NULL || e->value == NULL) {
			r = lb_err_set(err, LB_E_CORRUPT, "bad base64 at revision %lld",
			    (long long)rev);
			goto out;
		}
	}
	if ((r = flush(c, &p, &applied, err)) < 0)
		goto out;
	printf("applied %ld revisions %lld\n", applied, (long long)p.rev);
out:
	pending_clear(&p);
	free(p.ev);
	free(p.bufs);
	free(have);
	free(line);
	fclose(fp);
	return r;
}

int
main(int argc, char **argv)
{
	struct etcd_client *c = NULL;
	struct etcd_opts o;
	struct lb_err err;
	int r;

	if (argc < 4 || (strcmp(argv[1], "watch") != 0 && strcmp(argv[1], "apply") != 0)) {
		fprintf(stderr, "usage: watchtool watch URL START [UNTIL [SECONDS [PROGRESS]]]\n"
		    "       watchtool apply URL FILE\n");
		return 2;
	}
	lb_err_clear(&err);
	memset(&o, 0, sizeof(o));
	if (getenv("WATCHTOOL_STALL") != NULL)
		o.stall_timeout_s = atol(getenv("WATCHTOOL_STALL"));
	if ((r = etcd_open(argv[2], &o, &c, &err)) == 0) {
		if (strcmp(argv[1], "watch") == 0)
			r = do_watch(c, argc, argv, &err);
		else
			r = do_apply(c, argv[3], &err);
	}
	etcd_close(c);
	if (r < 0) {
		fprintf(stderr, "watchtool: %s: %s\n", lb_err_name(r), err.msg);
		return 1;
	}
	return 0;
}
