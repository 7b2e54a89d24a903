/* testhook.h — a converter that only test builds contain.
 *
 * What it does: names a weak symbol. Release binaries leave it undefined
 * (NULL), so the worker calls hp_convert as always. Test binaries link an
 * object that defines it (tests/attack/attack.c, linked into
 * build/tests/attack/hopper-worker only): the worker then offers every job to it
 * first, and it takes the jobs whose names it knows.
 * What it never does: exist in build/hopper-worker, hopperd or hopper.
 * Process rules: worker side, same contract as hp_converter.convert, plus:
 * return 1 to decline a job (the worker then calls hp_convert), 0 with
 * *ret_doc set (free with hp_doc_free) or -errno with err filled.
 */
#ifndef HOPPER_TESTHOOK_H
#define HOPPER_TESTHOOK_H

#include <stddef.h>

#include "hopper/convert.h"

extern int hp_test_convert(const char *name, const void *data, size_t len,
                           const hp_convert_limits *lim, hp_doc **ret_doc,
                           char *err, size_t errlen) __attribute__((weak));

#endif
