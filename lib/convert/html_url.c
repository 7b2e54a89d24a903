/* html_url.c — link destinations of the HTML converter: click-tracking
 * redirects replaced by the address they lead to.
 *
 * A search results page links every result through the engine's redirector
 * (Bing: https://www.bing.com/ck/a?...&u=a1<target>&...), so its Markdown
 * would hold dozens of opaque tracking URLs and not one real address. The
 * redirector's own parameter carries the target; where it decodes to a
 * plain http(s) URL that URL is the link, otherwise the href is kept as it
 * is. Rules, not a list of pages:
 *   Bing   host bing.com or *.bing.com, path /ck/a, parameter u = "a1"
 *          followed by the target in base64url (RFC 4648 §5), padding optional;
 *          a target that is a path ("/search?q=...") is on the redirector's
 *          own site and keeps its scheme and host.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "html-int.h"

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* base64url s[0..n) into out (NUL-terminated); its length, or -1 when s is
 * not base64url or the result does not fit. */
static long b64url_decode(const char *s, size_t n, char *out, size_t outlen)
{
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xFF);
		}
	}
	out[o] = '\0';
	return (long)o;
}

/* Is u printable ASCII without spaces? */
static int plain_ascii(const char *u)
{
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= 0x20 || *p >= 0x7F)
			return 0;
	return 1;
}

int hp_html_unwrap_redirect(const char *href, char *out, size_t outlen)
{
	const char *p = href;
	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	else if (strncmp(p, "//", 2) == 0)
		p += 2;
	else
		return 0;
	size_t hl = strcspn(p, "/?#");
	if (!(hl == 8 && strncasecmp(p, "bing.com", 8) == 0) &&
	    !(hl > 9 && strncasecmp(p + hl - 9, ".bing.com", 9) == 0))
		return 0;
	p += hl;
	size_t origin = (size_t)(p - href);     /* "https://www.bing.com" */
	if (strncmp(p, "/ck/a?", 6) != 0)
		return 0;
	p += 6;
	while (*p && *p != '#') {
		size_t len = strcspn(p, "&#");
		if (len > 4 && strncmp(p, "u=a1", 4) == 0) {
			if (outlen <= origin || b64url_decode(p + 4, len - 4, out + origin, outlen - origin) <= 0 ||
			    !plain_ascii(out + origin))
				return 0;
			const char *t = out + origin;
			if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
				memmove(out, t, strlen(t) + 1);
				return 1;
			}
			if (t[0] == '/' && t[1] != '/') {        /* a path on the redirector's site */
				memcpy(out, href, origin);
				return 1;
			}
			/* a redirect to a script goes nowhere: not a link */
			if (strncasecmp(t, "javascript:", 11) == 0 || strncasecmp(t, "vbscript:", 9) == 0)
				return -1;
			return 0;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}
