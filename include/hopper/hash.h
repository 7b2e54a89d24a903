/* hash.h — content hashing (SHA-256 via OpenSSL's EVP interface).
 *
 * What it does: the hex SHA-256 that identifies a document's content, so
 * identical files are converted once.
 * What it never does: anything else.
 */
#ifndef HOPPER_HASH_H
#define HOPPER_HASH_H

#include <stddef.h>

#define HP_SHA256_HEX_LEN 64

/* Writes 64 hex digits and a NUL into out (65 bytes). 0 or -EIO. */
int hp_sha256_hex(const void *data, size_t len, char out[HP_SHA256_HEX_LEN + 1]);

#endif
