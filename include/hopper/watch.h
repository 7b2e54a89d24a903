/* watch.h — finding files to convert in the watched folders.
 *
 * What it does: inotify on every [watch] path (recursive: new
 * subdirectories are added and scanned when they appear, so files created
 * before the watch was armed are not missed), reporting a file when it is
 * closed after writing (IN_CLOSE_WRITE) or renamed into place (IN_MOVED_TO);
 * a start-up scan reports every file already there; IN_Q_OVERFLOW
 * (inotify(7)) triggers a rescan. Names matching the watch's exclude
 * patterns (files and folders) are skipped; only regular files are reported (lstat: symlinks
 * are not followed).
 * Reported paths start at the realpath(3) of the watch's folder, so they
 * hold no symbolic links (the reader refuses links anywhere in a path).
 * What it never does: read file contents or talk to the database.
 * Process rules: supervisor only; non-blocking.
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

/* cfg is borrowed and must outlive the watcher. Registers its fd in epfd. */
int hp_watcher_new(const hp_config *cfg, int epfd, hp_watch_cb cb, void *userdata,
                   hp_watcher **ret);
/* Walk every watch, arming an inotify watch on each subdirectory before
 * listing it, and report every file (start-up, overflow, reload). Returns
 * the number of files reported. */
int hp_watcher_scan(hp_watcher *w);
/* Number of directories watched. */
int hp_watcher_count(const hp_watcher *w);
/* true when the name (base name) is skipped by w's exclude rules. */
bool hp_watch_excluded(const hp_watch_config *w, const char *base);
void hp_watcher_free(hp_watcher *w);

#endif
