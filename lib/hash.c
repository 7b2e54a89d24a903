/* hash.c — see include/hopper/hash.h */
#include <errno.h>
#include <openssl/evp.h>

#include "hopper/hash.h"

int hp_sha256_hex(const void *data, size_t len, char out[HP_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -EIO;
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[HP_SHA256_HEX_LEN] = '\0';
	return 0;
}
