/* doctor.h — `hopper doctor`: is this machine ready to run hopperd?
 *
 * What it does: checks, one line each with the fix when something is
 * wrong: the configuration; each watch folder (exists, readable, the kind
 * of file system and whether inotify will see changes on it); the inotify
 * limits against the folders to watch; io_uring; the database (reachable,
 * schema version, migrations pending); free space in state_dir and output
 * folders; the worker sandbox (a real `hopper convert` of a sample); and
 * the unit's systemd-analyze exposure where systemd is installed.
 * What it never does: change anything (no migration, no mkdir, no sysctl).
 * Lines: "ok    ...", "warn  ... -> fix", "FAIL  ... -> fix".
 */
#ifndef HOPPER_DAEMON_DOCTOR_H
#define HOPPER_DAEMON_DOCTOR_H

#include <stdio.h>

/* cfg_path: the file to check (NULL: the default). self: this program's
 * path, used to run `self convert` on a sample. Returns the exit status:
 * 0 when nothing FAILed, 1 otherwise. */
int hp_doctor(const char *cfg_path, const char *self, FILE *out);

#endif
