/* mirror.h — the mirror folder of Markdown ([watch] output_dir, issue 18).
 *
 * What it does: for each watch with output_dir, writes every done document
 * as OUTPUT_DIR/<path relative to the watch root>.md with a front matter
 * block (source, format, sha256, title, pages), and OUTPUT_DIR/index.md
 * listing every document (title, format, relative link) grouped by folder.
 *   - Files are written atomically: a temporary file in the same folder,
 *     fsync, rename, so a reader never sees half a file.
 *   - Writing happens after the result is committed (the supervisor calls
 *     hp_mirror_notify with the committed job ids) and is idempotent, so a
 *     crash between commit and write is repaired at the next start:
 *     hp_mirror_start compares every done document's sha256 with the front
 *     matter of its mirror file and writes those that differ or are missing.
 *   - index.md is rewritten in batches: at most once per
 *     HP_MIRROR_INDEX_INTERVAL_MS while documents arrive, and once more when
 *     they stop, not once per file.
 *   - output_prune = yes: when a source file no longer exists its mirror
 *     file is removed, checked at each index rewrite (at start, on reload,
 *     after new documents); otherwise nothing is ever removed.
 * What it never does: write outside output_dir (a relative path with ".."
 * is refused), block the supervisor (all database reads and file writes run
 * on the mirror's own thread with its own connection), or touch the source.
 * Thread rules: hp_mirror_* are called from the supervisor thread only.
 */
#ifndef HOPPER_MIRROR_H
#define HOPPER_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "hopper/config.h"

#define HP_MIRROR_INDEX_INTERVAL_MS 2000

typedef struct hp_mirror hp_mirror;

/* Start the mirror thread for cfg's watches (the configuration is copied)
 * on its own connection to conninfo; it first repairs every watch with an
 * output_dir. *ret is NULL when no watch has an output_dir (nothing to do;
 * every other call accepts NULL). Returns 0, or -errno (logged). */
int hp_mirror_start(const hp_config *cfg, const char *conninfo, hp_mirror **ret);
/* Jobs whose results were just committed (state done). Never blocks on I/O. */
void hp_mirror_notify(hp_mirror *m, const int64_t *job_ids, size_t n);
/* A new configuration (reload): the watches' output_dir/output_prune are
 * copied; watches that gained an output_dir are repaired. Starts the
 * mirror (as hp_mirror_start) when *m is NULL. 0 or -errno (logged). */
int hp_mirror_reload(hp_mirror **m, const hp_config *cfg, const char *conninfo);
/* Finish what was notified, rewrite index.md if due, stop and join. NULL ok. */
void hp_mirror_free(hp_mirror *m);

/* ---- pure helpers (exposed for tests) ---------------------------------- */
/* The front matter + Markdown of one document into *ret (malloc'd, caller
 * frees), *ret_len its length. YAML double-quoted strings; bytes that are
 * not printable UTF-8 are written as \xNN escapes. pages <= 0: omitted. */
int hp_mirror_render(const char *source, const char *format, const char *sha256,
                     const char *title, int pages, const char *markdown, size_t markdown_len,
                     char **ret, size_t *ret_len);
/* Write data to dir/rel atomically (parents created, temporary file,
 * fsync, rename). -EINVAL for a rel that is absolute or has a ".." part. */
int hp_mirror_write_file(const char *dir, const char *rel, const char *data, size_t len);
/* The sha256 recorded in the front matter of the file, into out (65 bytes);
 * -ENOENT when missing or without one. */
int hp_mirror_read_sha(const char *path, char out[65]);

#endif
