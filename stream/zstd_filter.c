/*
 * zstd_filter.c: the zstd compress and decompress stages of zstd_filter.h.  Each stage
 * owns one libzstd context and one output buffer of libzstd's recommended
 * size, reused for every call, so memory does not grow with the stream.
 */
#include "stream/zstd_filter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* For ZSTD_getFrameProgression (the rate policy's view of the workers):
 * in libzstd's experimental section, exported by its shared library. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "common/clock.h"

int
zstd_level_fixed(int level)
{
	return level == ZSTD_LEVEL_AUTO ? ZSTD_DEFAULT_LEVEL : level;
}

/* the rate policy (zstd_filter.h) */

/* Speeds relative to level 3, from CPU time (user seconds of `zstd -T1
 * -N -c` of a 1 GiB snapshot of bench/load.py's data, db 1041 MiB, six
 * runs per level alternating, medians; the 2-core machine at load 8-11,
 * so single runs spread by 30%): level 1 4.45 s, level 2 4.70 s, level 3
 * 4.81 s.  On this data the lower levels are barely faster (the random
 * base64 that half of it is costs the same at every level; `zstd -T2
 * -B2MiB` gave 1.19 for level 1 on a quieter day, README): the policy
 * then mostly chooses between level 3 and, when even that falls short,
 * level 1. */
static const double rate_rel[ZSTD_AUTO_LEVEL_MAX + 1] = { 0, 1.08, 1.02, 1.0 };

/* Weight of a window's measure in the smoothed rates: a window is 2 MiB,
 * a few milliseconds at the rates of a backup, so one alone is noise
 * (the scheduler's slices, curl's bursts).  Smoothed as seconds per
 * byte, not bytes per second, so that a window fed at once from a
 * socket's buffer (a rate near infinity) moves the estimate by half a
 * window's time, not by orders of magnitude. */
#define RATE_EWMA 0.5

double
zstd_rate_rel(int l)
{
	if (l < ZSTD_AUTO_LEVEL_MIN)
		l = ZSTD_AUTO_LEVEL_MIN;
	if (l > ZSTD_AUTO_LEVEL_MAX)
		l = ZSTD_AUTO_LEVEL_MAX;
	return rate_rel[l];
}

void
zstd_rate_init(struct zstd_rate *r, int level)
{
	memset(r, 0, sizeof(*r));
	r->level = level;
}

void
zstd_rate_sample(struct zstd_rate *r, double now, uint64_t consumed,
    unsigned active)
{
	/* Jobs start only inside the stage's calls, which sample right
	 * after: a span with a job under way at both ends was busy all
	 * through.  A span in which the last job ended is left out, bytes
	 * and time, as its idle part is unknown. */
	if (r->last_t > 0 && r->last_active > 0 && active > 0 &&
	    consumed >= r->last_consumed && now > r->last_t) {
		r->win_busy += now - r->last_t;
		r->win_done += consumed - r->last_consumed;
	}
	if (r->win_start == 0)
		r->win_start = now;
	r->last_t = now;
	r->last_consumed = consumed;
	r->last_active = active > 0;
}

static double
ewma(double old, double v)
{
	return old > 0 ? old + RATE_EWMA * (v - old) : v;
}

int
zstd_rate_account(struct zstd_rate *r, double now, uint64_t in, double held)
{
	double offered;
	int l;

	if (r->win_start == 0)
		r->win_start = now - held;
	r->win_in += in;
	r->win_held += held;
	if (r->win_in < ZSTD_JOB_SIZE)
		return 0;
	/* At least a microsecond: a window fed from memory has no time
	 * outside the stage, and is an input faster than any compressor. */
	offered = now - r->win_start - r->win_held;
	r->in_spb = ewma(r->in_spb, (offered > 1e-6 ? offered : 1e-6) / (double)r->win_in);
	r->in_rate = 1 / r->in_spb;
	if (r->win_busy > 0 && r->win_done > 0) {
		r->speed_spb = ewma(r->speed_spb, r->win_busy * zstd_rate_rel(r->level) /
		    (double)r->win_done);
		r->speed = 1 / r->speed_spb;
	}
	if (r->speed > 0) {
		for (l = ZSTD_AUTO_LEVEL_MAX; l > ZSTD_AUTO_LEVEL_MIN; l--)
			if (r->speed * rate_rel[l] >= ZSTD_RATE_MARGIN * r->in_rate)
				break;
		r->level = l;
	}
	r->win_start = now;
	r->win_held = r->win_busy = 0;
	r->win_in = r->win_done = 0;
	return 1;
}

/* compression */

struct flt_zstd {
	struct flt base;
	ZSTD_CCtx *cctx;
	uint8_t *out;
	size_t out_cap;
	int level;                 /* the level jobs are given now */
	int adapt;                 /* level auto, with workers: follow the window */
	int auto_level;            /* configured auto (for flt_zstd_levels) */
#ifdef LB_ZSTD_AUTO_TIME
	/* the current window: input taken, its start, time in the compressor */
	uint64_t win_in;
	double win_start, win_comp;
#else
	struct zstd_rate rate;
#endif
	uint64_t by_level[ZSTD_LEVEL_MAX + 1];   /* input bytes per level */
	int lmin, lmax;
};

/* The level of the next jobs: a refused change keeps the level, as
 * compression goes on either way. */
static void
zstd_set_level(struct flt_zstd *z, int lv)
{
	if (lv != z->level &&
	    !ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, lv)))
		z->level = lv;
	if (z->level < z->lmin)
		z->lmin = z->level;
	if (z->level > z->lmax)
		z->lmax = z->level;
}

#ifdef LB_ZSTD_AUTO_TIME
/* Policy A, for measuring against the rate policy: zstd --adapt's idea.
 * At the end of a window of ZSTD_JOB_SIZE input: when the compressor held
 * its caller back for more than 1/8 of the window, one level down; for
 * less than 1/64, one level up. */
static void
zstd_adapt(struct flt_zstd *z, double now)
{
	double wall = now - z->win_start;
	int lv = z->level;

	if (wall <= 0)
		return;
	if (z->win_comp > wall / 8 && lv > ZSTD_AUTO_LEVEL_MIN)
		lv--;
	else if (z->win_comp < wall / 64 && lv < ZSTD_AUTO_LEVEL_MAX)
		lv++;
	zstd_set_level(z, lv);
	z->win_in = 0;
	z->win_comp = 0;
	z->win_start = now;
}

/* Runs the compressor over in with mode, handing every filled buffer to
 * next; returns once in is consumed and (for ZSTD_e_end) the frame is
 * fully flushed. */
static int
zstd_pump(struct flt_zstd *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
    struct lb_err *err)
{
	ZSTD_outBuffer o;
	size_t left, before = in->pos;
	double t0 = 0;
	int r;

	if (z->adapt) {
		t0 = lb_mono_now();
		if (z->win_start == 0)
			z->win_start = t0;
	}
	do {
		o.dst = z->out;
		o.size = z->out_cap;
		o.pos = 0;
		left = ZSTD_compressStream2(z->cctx, &o, in, mode);
		if (z->adapt) {
			/* Only the compressor's own time: the stages after it
			 * (age, the upload) are not its doing. */
			double t1 = lb_mono_now();
			z->win_comp += t1 - t0;
			t0 = t1;
		}
		if (ZSTD_isError(left))
			return lb_err_set(err, LB_E_INTERNAL, "zstd compression failed: %s",
			    ZSTD_getErrorName(left));
		if (o.pos > 0 && (r = flt_write(z->base.next, z->out, o.pos, err)) < 0)
			return r;
		if (z->adapt && o.pos > 0)
			t0 = lb_mono_now();
		/* With workers, continue returns early while jobs run; end
		 * reports what is still to flush in left. */
	} while (in->pos < in->size || (mode == ZSTD_e_end && left != 0));
	z->by_level[z->level] += in->pos - before;
	if (z->adapt && (z->win_in += in->pos - before) >= ZSTD_JOB_SIZE)
		zstd_adapt(z, lb_mono_now());
	return 0;
}
#else
/* One sample of the workers' progress for the rate policy. */
static void
zstd_sample(struct flt_zstd *z, double now)
{
	ZSTD_frameProgression p = ZSTD_getFrameProgression(z->cctx);

	zstd_rate_sample(&z->rate, now, p.consumed, p.nbActiveWorkers);
}

/* Runs the compressor over in with mode, handing every filled buffer to
 * next; returns once in is consumed and (for ZSTD_e_end) the frame is
 * fully flushed.  Under auto, the time from entry to return is what the
 * rate policy counts as held (the compressor's and the stages' after it). */
static int
zstd_pump(struct flt_zstd *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
    struct lb_err *err)
{
	ZSTD_outBuffer o;
	size_t left, before = in->pos;
	double t0 = 0;
	int r;

	if (z->adapt) {
		t0 = lb_mono_now();
		zstd_sample(z, t0);
	}
	do {
		o.dst = z->out;
		o.size = z->out_cap;
		o.pos = 0;
		left = ZSTD_compressStream2(z->cctx, &o, in, mode);
		if (ZSTD_isError(left))
			return lb_err_set(err, LB_E_INTERNAL, "zstd compression failed: %s",
			    ZSTD_getErrorName(left));
		if (z->adapt)
			zstd_sample(z, lb_mono_now());
		if (o.pos > 0) {
			if ((r = flt_write(z->base.next, z->out, o.pos, err)) < 0)
				return r;
			if (z->adapt)
				zstd_sample(z, lb_mono_now());
		}
		/* With workers, continue returns early while jobs run; end
		 * reports what is still to flush in left. */
	} while (in->pos < in->size || (mode == ZSTD_e_end && left != 0));
	z->by_level[z->level] += in->pos - before;
	if (z->adapt) {
		double t1 = lb_mono_now();

		if (zstd_rate_account(&z->rate, t1, in->pos - before, t1 - t0))
			zstd_set_level(z, z->rate.level);
	}
	return 0;
}
#endif

static int
zstd_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	return zstd_pump((struct flt_zstd *)f, &in, ZSTD_e_continue, err);
}

static int
zstd_finish(struct flt *f, struct lb_err *err)
{
	ZSTD_inBuffer in = { NULL, 0, 0 };

	return zstd_pump((struct flt_zstd *)f, &in, ZSTD_e_end, err);
}

static void
zstd_free(struct flt *f)
{
	struct flt_zstd *z = (struct flt_zstd *)f;

	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	free(z);
}

static const struct flt_ops zstd_ops = { "zstd", zstd_write, zstd_finish, zstd_free };

static int
cctx_set(ZSTD_CCtx *c, ZSTD_cParameter p, int v, const char *what,
    struct lb_err *err)
{
	size_t rc = ZSTD_CCtx_setParameter(c, p, v);

	if (ZSTD_isError(rc))
		return lb_err_set(err, LB_E_CONFIG, "zstd: cannot set %s to %d: %s",
		    what, v, ZSTD_getErrorName(rc));
	return 0;
}

int
flt_zstd_new(int level, int threads, struct flt *next, struct flt **out,
    struct lb_err *err)
{
	struct flt_zstd *z = NULL;
	int r = 0;

	*out = NULL;
	if (level != ZSTD_LEVEL_AUTO && (level < ZSTD_LEVEL_MIN || level > ZSTD_LEVEL_MAX)) {
		r = lb_err_set(err, LB_E_CONFIG, "zstd level %d is out of range %d..%d",
		    level, ZSTD_LEVEL_MIN, ZSTD_LEVEL_MAX);
		goto out;
	}
	if (threads < 0 || threads > ZSTD_THREADS_MAX) {
		r = lb_err_set(err, LB_E_CONFIG, "zstd threads %d is out of range 0..%d",
		    threads, ZSTD_THREADS_MAX);
		goto out;
	}
	if ((z = calloc(1, sizeof(*z))) == NULL ||
	    (z->cctx = ZSTD_createCCtx()) == NULL ||
	    (z->out = malloc(ZSTD_CStreamOutSize())) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	z->out_cap = ZSTD_CStreamOutSize();
	z->base.ops = &zstd_ops;
	z->base.next = next;
	z->auto_level = level == ZSTD_LEVEL_AUTO;
	z->adapt = z->auto_level && threads > 0;
	z->level = z->auto_level ? ZSTD_AUTO_LEVEL_MAX : level;
	z->lmin = z->lmax = z->level;
#ifndef LB_ZSTD_AUTO_TIME
	zstd_rate_init(&z->rate, z->level);
#endif
	if ((r = cctx_set(z->cctx, ZSTD_c_compressionLevel, z->level, "level", err)) < 0 ||
	    (r = cctx_set(z->cctx, ZSTD_c_checksumFlag, 1, "checksum flag", err)) < 0)
		goto out;
	/* nbWorkers fails on a libzstd built without threads: say so rather
	 * than silently compressing slower than configured. */
	if (threads > 0 &&
	    (r = cctx_set(z->cctx, ZSTD_c_nbWorkers, threads, "worker threads", err)) < 0)
		goto out;
	/* libzstd sizes a job at 4 windows (8 MiB at level 3); its input
	 * ring holds a job per worker plus 3 more, and each job in flight an
	 * output buffer of its size.  1 MiB jobs took 6 MiB off a backup's
	 * peak RSS against 2 MiB ones (67 -> 61 MiB to s3rver with 3 part
	 * slots, bench/README.md), for 1.3% more stored (`zstd -3 -T2`
	 * of a 1 GiB snapshot: 421.0 MB with -B1MiB, 415.5 MB with -B2MiB). */
	if (threads > 0 &&
	    (r = cctx_set(z->cctx, ZSTD_c_jobSize, ZSTD_JOB_SIZE, "job size", err)) < 0)
		goto out;
	*out = &z->base;
	z = NULL;
out:
	if (z != NULL) {
		z->base.next = NULL;
		zstd_free(&z->base);
	}
	return r;
}

void
flt_zstd_levels(const struct flt *f, struct zstd_levels *out)
{
	const struct flt_zstd *z = (const struct flt_zstd *)f;
	int i;

	out->min = z->lmin;
	out->max = z->lmax;
	out->most = z->level;
	out->adaptive = z->auto_level;
	for (i = ZSTD_LEVEL_MIN; i <= ZSTD_LEVEL_MAX; i++)
		if (z->by_level[i] > z->by_level[out->most])
			out->most = i;
}

/* decompression */

struct flt_unzstd {
	struct flt base;
	ZSTD_DCtx *dctx;
	uint8_t *out;
	size_t out_cap;
	uint64_t consumed;     /* compressed bytes read, for messages */
	uint64_t frames;       /* frames completed */
	int in_frame;          /* the last call left a frame unfinished */
};

/* One line, lower case, for the errors a bad object produces. */
static const char *
unzstd_reason(size_t code)
{
	switch (ZSTD_getErrorCode(code)) {
	case ZSTD_error_prefix_unknown:
		return "not a zstd frame";
	case ZSTD_error_checksum_wrong:
		return "content checksum mismatch";
	case ZSTD_error_frameParameter_windowTooLarge:
		return "frame needs a window larger than the 128 MiB allowed";
	case ZSTD_error_corruption_detected:
		return "corrupt compressed block";
	case ZSTD_error_frameParameter_unsupported:
		return "unsupported frame parameter";
	default:
		return ZSTD_getErrorName(code);
	}
}

static int
unzstd_write(struct flt *f, const void *buf, size_t len, struct lb_err *err)
{
	struct flt_unzstd *u = (struct flt_unzstd *)f;
	ZSTD_inBuffer in = { buf, len, 0 };
	ZSTD_outBuffer o;
	size_t hint, before;
	int r;

	do {
		o.dst = u->out;
		o.size = u->out_cap;
		o.pos = 0;
		before = in.pos;
		hint = ZSTD_decompressStream(u->dctx, &o, &in);
		if (ZSTD_isError(hint)) {
			if (u->frames > 0 && !u->in_frame &&
			    ZSTD_getErrorCode(hint) == ZSTD_error_prefix_unknown)
				return lb_err_set(err, LB_E_CORRUPT,
				    "zstd: trailing garbage after frame %llu at "
				    "compressed byte %llu",
				    (unsigned long long)u->frames,
				    (unsigned long long)u->consumed);
			return lb_err_set(err, LB_E_CORRUPT,
			    "zstd frame is corrupt near compressed byte %llu: %s",
			    (unsigned long long)u->consumed, unzstd_reason(hint));
		}
		u->consumed += in.pos - before;
		if (hint == 0) {
			u->frames++;
			u->in_frame = 0;
		} else if (in.pos > before || o.pos > 0) {
			u->in_frame = 1;
		}
		if (o.pos > 0 && (r = flt_write(u->base.next, u->out, o.pos, err)) < 0)
			return r;
		/* A full output buffer may mean libzstd holds more decoded
		 * bytes: call again even when the input is all consumed. */
	} while (in.pos < in.size || o.pos == o.size);
	return 0;
}

static int
unzstd_finish(struct flt *f, struct lb_err *err)
{
	struct flt_unzstd *u = (struct flt_unzstd *)f;

	if (u->consumed == 0)
		return lb_err_set(err, LB_E_CORRUPT, "zstd stream is empty");
	if (u->in_frame || u->frames == 0)
		return lb_err_set(err, LB_E_CORRUPT,
		    "zstd frame is truncated: input ended after %llu compressed bytes",
		    (unsigned long long)u->consumed);
	return 0;
}

static void
unzstd_free(struct flt *f)
{
	struct flt_unzstd *u = (struct flt_unzstd *)f;

	ZSTD_freeDCtx(u->dctx);
	free(u->out);
	free(u);
}

static const struct flt_ops unzstd_ops = {
	"unzstd", unzstd_write, unzstd_finish, unzstd_free
};

int
flt_unzstd_new(struct flt *next, struct flt **out, struct lb_err *err)
{
	struct flt_unzstd *u = NULL;
	size_t rc;
	int r = 0;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->dctx = ZSTD_createDCtx()) == NULL ||
	    (u->out = malloc(ZSTD_DStreamOutSize())) == NULL) {
		r = lb_err_set(err, LB_E_NOMEM, "out of memory");
		goto out;
	}
	u->out_cap = ZSTD_DStreamOutSize();
	u->base.ops = &unzstd_ops;
	u->base.next = next;
	rc = ZSTD_DCtx_setParameter(u->dctx, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
	if (ZSTD_isError(rc)) {
		r = lb_err_set(err, LB_E_INTERNAL, "zstd: cannot limit the window: %s",
		    ZSTD_getErrorName(rc));
		goto out;
	}
	*out = &u->base;
	u = NULL;
out:
	if (u != NULL)
		unzstd_free(&u->base);
	return r;
}
