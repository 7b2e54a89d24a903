/* watch.h — finding complete files to convert in the watched folders.
 *
 * What it does: inotify on every [watch] path (recursive: new
 * subdirectories are added and scanned when they appear, so files created
 * before the watch was armed are not missed). A file is reported when it is
 * complete:
 *   - closed after writing (IN_CLOSE_WRITE) or renamed into place
 *     (IN_MOVED_TO): at once;
 *   - otherwise (a writer that keeps it open, a hard link made with ln, an
 *     O_TMPFILE linked into place, a write through a share) once its size
 *     and mtime have not changed for the watch's `settle` time. Timers run
 *     on the watcher's own timerfd, registered in the caller's epoll set.
 *     settle = 0 turns this off: only close and rename count.
 * A start-up scan reports every file already there (stat only, no reads;
 * one modified less than `settle` ago waits to settle first).
 * IN_Q_OVERFLOW (inotify(7)) triggers a rescan. Directories removed or
 * renamed away drop their watches.
 * Polling: a watch with mode = poll, or mode = auto on a network or FUSE
 * filesystem (statfs(2) f_type), is walked every poll_interval instead;
 * new and changed files then wait to settle as above. When the per-user
 * inotify watch limit (fs.inotify.max_user_watches) is reached, that is
 * logged once with the sysctl to raise and the folder that could not be
 * watched is polled, with everything below it.
 * Names matching the watch's exclude patterns (files and folders) are
 * skipped; only regular files are reported (lstat: symlinks are not
 * followed); symlinks, FIFOs, sockets and devices are skipped with one
 * info line each when they are found.
 * Reported paths start at the realpath(3) of the watch's folder, so they
 * hold no symbolic links (the reader refuses links anywhere in a path).
 * What it never does: read file contents or talk to the database.
 * Process rules: supervisor only; non-blocking.
 * Test hook: HOPPER_TEST_MAX_WATCHES=N in the environment makes the watcher
 * behave as if the inotify watch limit were N directories.
 */
#ifndef HOPPER_WATCH_H
#define HOPPER_WATCH_H

#include <stdbool.h>
#include <sys/stat.h>

#include "hopper/common.h"
#include "hopper/config.h"

typedef struct hp_watcher hp_watcher;

/* One candidate file. `w` and `path` are borrowed for the call. */
typedef void (*hp_watch_cb)(void *userdata, const hp_watch_config *w,
                            const char *path, const struct stat *st);

/* cfg is borrowed and must outlive the watcher. Registers its inotify fd
 * and its timerfd in epfd. */
int hp_watcher_new(const hp_config *cfg, int epfd, hp_watch_cb cb, void *userdata,
                   hp_watcher **ret);
/* Walk every watch, arming an inotify watch on each subdirectory before
 * listing it, and report every file (start-up, overflow, reload). Returns
 * the number of files reported (files still settling are not counted). */
int hp_watcher_scan(hp_watcher *w);
/* Number of directories watched with inotify. */
int hp_watcher_count(const hp_watcher *w);
/* Number of folders polled (whole watches in poll mode, and folders that
 * fell back to polling at the watch limit). */
int hp_watcher_polled(const hp_watcher *w);
/* Number of files waiting to settle. */
int hp_watcher_settling(const hp_watcher *w);
/* Whether watch i (index into cfg->watches) is polled as a whole. */
bool hp_watcher_is_polled(const hp_watcher *w, size_t i);
/* The name of a network or FUSE file system (statfs(2) f_type), where mode =
 * auto polls; NULL for a local one. hopper doctor says the same. */
const char *hp_watch_remote_fs(long f_type);
/* true when the name (base name) is skipped by w's exclude rules. */
bool hp_watch_excluded(const hp_watch_config *w, const char *base);
void hp_watcher_free(hp_watcher *w);

#endif
