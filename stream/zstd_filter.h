/*
 * zstd_filter.h: zstd compression and decompression stages for the
 * filter chain (flt.h), on libzstd's streaming API.  (Not named zstd.h,
 * so that no reader takes it for libzstd's own header.)
 *
 * The compressor writes one standard zstd frame with a content checksum,
 * so `zstd -d` and `zstd -t` read what it writes.  The decompressor reads
 * any sequence of zstd frames and refuses what is not one: trailing
 * garbage, a truncated frame, a checksum mismatch, or a frame that asks for
 * a window larger than ZSTD_WINDOW_LOG_MAX (so a hostile object cannot make
 * a restore allocate gigabytes).  Both keep one bounded output buffer.
 */
#ifndef LB_ZSTD_FILTER_H
#define LB_ZSTD_FILTER_H

#include "common/err.h"
#include "stream/flt.h"

/*
 * Defaults, from `build/tests/zstd_filter_test bench 256` (tests/unit/
 * zstd_filter_test.c): 256 MiB of generated etcd-like data (bbolt-like
 * 4 KiB pages of mvcc revisions of 50000 JSON Kubernetes objects, with
 * random uids and base64 secrets), libzstd 1.5.4, the 2-core build
 * machine shared with other jobs, so speeds are the range of two runs
 * (MB/s of input) and only indicative:
 *
 *   level  threads=0      threads=1      threads=2      ratio
 *   1      487-497 MB/s   339-453 MB/s   438-774 MB/s   x7.33
 *   3      270-359 MB/s   289-326 MB/s   618-638 MB/s   x7.46
 *   6      117     MB/s   101-112 MB/s   119-164 MB/s   x8.12
 *   decompression of level 3: 1285-1355 MB/s, one thread
 *
 * Level 3 with 2 workers is several times faster than etcd sends a
 * snapshot (100-200 MB/s over gRPC), so it never paces a backup; level 6
 * saves 9% more space for 2.5-4x the CPU on an appliance that may back up
 * several clusters at once.  Level 1 is no faster in practice (the network
 * is the bound) and real, less regular data gains more from level 3 than
 * this generator shows.
 */
#define ZSTD_DEFAULT_LEVEL 3
#define ZSTD_DEFAULT_THREADS 2

/* Input per multithreaded job: bounds memory (see flt_zstd_new). */
#define ZSTD_JOB_SIZE (2 * 1024 * 1024)

/*
 * compress-level = auto (ZSTD_LEVEL_AUTO, the same 0 as config.h's
 * CFG_AUTO): the level follows the pipeline between ZSTD_AUTO_LEVEL_MIN
 * and ZSTD_AUTO_LEVEL_MAX, changed between jobs (libzstd applies a level
 * set mid-frame to the next job when it has workers).  The ceiling is the
 * fixed default, so auto never stores more than level 1 does nor spends
 * more CPU than level 3 does; see flt_zstd_new for the rule.
 */
#define ZSTD_LEVEL_AUTO 0
#define ZSTD_AUTO_LEVEL_MIN 1
#define ZSTD_AUTO_LEVEL_MAX ZSTD_DEFAULT_LEVEL

/* The level a caller that cannot adapt uses for a configured level:
 * ZSTD_DEFAULT_LEVEL for ZSTD_LEVEL_AUTO, the level itself otherwise (the
 * event log's segments, compressed in one go, take this). */
int zstd_level_fixed(int level);

/* Levels accepted by flt_zstd_new; 20..22 ("ultra") need windows beyond
 * what we let the decompressor allocate. */
#define ZSTD_LEVEL_MIN 1
#define ZSTD_LEVEL_MAX 19
#define ZSTD_THREADS_MAX 64

/* Largest window the decompressor accepts: 2^27 = 128 MiB, which covers
 * every level up to 19 (and zstd's own default limit for the CLI). */
#define ZSTD_WINDOW_LOG_MAX 27

/* A compressing stage that writes one zstd frame (with a content
 * checksum) into next.  level is ZSTD_LEVEL_MIN..ZSTD_LEVEL_MAX or
 * ZSTD_LEVEL_AUTO.  Auto starts at ZSTD_AUTO_LEVEL_MAX and, with workers,
 * decides after every ZSTD_JOB_SIZE of input from the time of that window
 * (the idea of the zstd CLI's --adapt): when the compressor held its
 * caller back (ZSTD_compressStream2 waiting for a free worker, not
 * counting the stages after it) for more than 1/8 of the window, one
 * level down; when for less than 1/64, one level up.  Without workers a
 * level cannot change inside the frame, so auto is ZSTD_AUTO_LEVEL_MAX.
 * threads 0 compresses in the calling thread, 1..ZSTD_THREADS_MAX uses
 * that many libzstd worker threads (the output is one frame either way).  On
 * success *out owns next.  Fails with LB_E_CONFIG on a bad level or
 * thread count, LB_E_NOMEM otherwise; on failure next is not freed. */
int flt_zstd_new(int level, int threads, struct flt *next, struct flt **out,
    struct lb_err *err);

/* What a compressing stage of flt_zstd_new has done so far: the lowest
 * and highest level a job was given, and the level that compressed the
 * most input (the configured level when fixed).  f must be such a stage. */
struct zstd_levels {
	int min, max, most;
	int adaptive;              /* 1: level auto */
};
void flt_zstd_levels(const struct flt *f, struct zstd_levels *out);

/* A decompressing stage that writes the decoded bytes of one or more
 * concatenated zstd frames into next.  write fails with LB_E_CORRUPT on
 * bytes that are not zstd, a checksum mismatch or a window larger than
 * ZSTD_WINDOW_LOG_MAX; finish fails with LB_E_CORRUPT when the input was
 * empty or ended inside a frame.  On success *out owns next; on failure
 * next is not freed. */
int flt_unzstd_new(struct flt *next, struct flt **out, struct lb_err *err);

#endif
