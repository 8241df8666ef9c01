/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>

#include "macro.h"
#include "validate.h"

#define NONCE_MAX 32

int uuid_normalize(const char *s, char **ret) {
        char buf[37];

        assert(s);
        assert(ret);

        if (strlen(s) != 36)
                return -EINVAL;
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return -EINVAL;
                        buf[i] = '-';
                } else {
                        if (unhexchar(s[i]) < 0)
                                return -EINVAL;
                        buf[i] = (char)tolower((unsigned char)s[i]);
                }
        }
        buf[36] = 0;

        if (streq(buf, "00000000-0000-0000-0000-000000000000"))
                return -EINVAL;

        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

int mac_normalize(const char *s, char **ret) {
        unsigned char octets[6];
        char buf[18];
        char sep;

        assert(s);
        assert(ret);

        if (strlen(s) != 17)
                return -EINVAL;
        sep = s[2];
        if (sep != ':' && sep != '-')
                return -EINVAL;
        for (size_t i = 0; i < 6; i++) {
                int hi = unhexchar(s[i * 3]), lo = unhexchar(s[i * 3 + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (i < 5 && s[i * 3 + 2] != sep)
                        return -EINVAL;
                octets[i] = (unsigned char)(hi << 4 | lo);
        }

        if (octets[0] & 1) /* multicast and broadcast */
                return -EINVAL;
        if (!(octets[0] | octets[1] | octets[2] | octets[3] | octets[4] | octets[5]))
                return -EINVAL;

        snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", octets[0], octets[1], octets[2],
                octets[3], octets[4], octets[5]);
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

bool version_is_valid(const char *s) {
        size_t components = 0;

        if (isempty(s))
                return false;

        for (const char *p = s;;) {
                size_t digits = strspn(p, "0123456789");
                if (digits == 0 || digits > 9)
                        return false;
                components++;
                p += digits;
                if (*p == 0)
                        break;
                if (*p != '.')
                        return false;
                p++;
        }
        return components <= 8;
}

int version_compare(const char *a, const char *b) {
        assert(version_is_valid(a));
        assert(version_is_valid(b));

        while (*a || *b) {
                unsigned long x = 0, y = 0;
                char *end;

                if (*a) {
                        x = strtoul(a, &end, 10);
                        a = *end == '.' ? end + 1 : end;
                }
                if (*b) {
                        y = strtoul(b, &end, 10);
                        b = *end == '.' ? end + 1 : end;
                }
                if (x != y)
                        return x < y ? -1 : 1;
        }
        return 0;
}

/* The length of the well-formed UTF-8 sequence at p and its code point; 0 if it is
 * malformed. */
static size_t utf8_decode(const unsigned char *p, uint32_t *ret) {
        size_t n;
        uint32_t c;

        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        }
        if ((p[0] & 0xe0) == 0xc0)
                n = 2, c = p[0] & 0x1f;
        else if ((p[0] & 0xf0) == 0xe0)
                n = 3, c = p[0] & 0x0f;
        else if ((p[0] & 0xf8) == 0xf0)
                n = 4, c = p[0] & 0x07;
        else
                return 0;

        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates and values beyond Unicode. */
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
                (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                return 0;
        *ret = c;
        return n;
}

bool unichar_garbles_text(uint32_t c) {
        static const struct {
                uint32_t first, last;
        } ranges[] = {
                {0x0000, 0x001f}, /* C0 controls */
                {0x007f, 0x009f}, /* DEL, C1 controls */
                {0x061c, 0x061c}, /* ARABIC LETTER MARK */
                {0x180e, 0x180e}, /* MONGOLIAN VOWEL SEPARATOR */
                {0x200b, 0x200f}, /* zero width space, non-joiner, joiner; LRM, RLM */
                {0x2028, 0x202e}, /* line and paragraph separators; LRE, RLE, PDF, LRO, RLO */
                {0x2060, 0x206f}, /* word joiner, invisible operators; LRI, RLI, FSI, PDI; deprecated */
                {0xfeff, 0xfeff}, /* ZERO WIDTH NO-BREAK SPACE (BOM) */
                {0xfff9, 0xfffb}, /* interlinear annotation */
        };

        for (size_t i = 0; i < ELEMENTSOF(ranges); i++)
                if (c >= ranges[i].first && c <= ranges[i].last)
                        return true;
        return false;
}

bool uuid_is_shaped(const char *s) {
        assert(s);

        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++)
                if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : unhexchar(s[i]) < 0)
                        return false;
        return true;
}

bool vm_name_is_valid(const char *s) {
        size_t len;

        if (isempty(s) || streq(s, "*"))
                return false;
        len = strlen(s);
        if (len > 255)
                return false;

        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                uint32_t c;
                size_t n = utf8_decode(p, &c);
                if (n == 0 || unichar_garbles_text(c))
                        return false;
                p += n;
        }
        return true;
}

bool vsock_cid_is_valid(uint32_t cid) {
        return cid == 0 || (cid > 2 && cid != UINT32_MAX);
}

bool ifname_is_valid(const char *s) {
        size_t len;

        if (isempty(s) || streq(s, ".") || streq(s, ".."))
                return false;
        len = strlen(s);
        return len <= 15 &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

bool nonce_is_valid(const char *s) {
        size_t len;

        if (!s)
                return false;
        len = strlen(s);
        return len <= NONCE_MAX &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

static bool chars_ok(const char *s, const char *allowed) {
        return strspn(s, allowed) == strlen(s);
}

bool cluster_server_name_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n >= 1 && n <= 63 && !streq(s, ".") && !streq(s, "..") &&
               chars_ok(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
}

bool cluster_prefix_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n >= 2 && n <= 128 && s[0] == '/' && s[n - 1] != '/' && !strstr(s, "//") &&
               chars_ok(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-");
}

int cluster_ca_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_storage ss = {};
        char host[INET6_ADDRSTRLEN + 1];
        const char *colon, *p = s;
        unsigned long port;
        char *end;
        size_t n;

        assert(ret);
        assert(ret_len);

        if (!s)
                return -EINVAL;
        if (*p == '[') {
                colon = strchr(p, ']');
                if (!colon || colon[1] != ':')
                        return -EINVAL;
                p++;
                n = (size_t)(colon - p);
                colon++;
        } else {
                colon = strrchr(p, ':');
                if (!colon)
                        return -EINVAL;
                n = (size_t)(colon - p);
        }
        if (n == 0 || n >= sizeof host || !isdigit((unsigned char)colon[1]))
                return -EINVAL;
        memcpy(host, p, n);
        host[n] = 0;
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno != 0 || *end != 0 || port == 0 || port > 65535)
                return -EINVAL;

        if (*s != '[') {
                struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
                uint32_t a;

                if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
                        return -EINVAL;
                a = ntohl(sin->sin_addr.s_addr);
                if (a == INADDR_ANY || a == INADDR_BROADCAST || (a >> 24) == 127 ||
                        (a >> 16) == 0xa9fe /* 169.254/16 */ || IN_MULTICAST(a))
                        return -EADDRNOTAVAIL;
                sin->sin_family = AF_INET;
                sin->sin_port = htons((uint16_t)port);
                *ret_len = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

                if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
                        return -EINVAL;
                if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
                        IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) || IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr) ||
                        IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
                        return -EADDRNOTAVAIL;
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t)port);
                *ret_len = sizeof(*sin6);
        }
        *ret = ss;
        return 0;
}

bool cluster_ca_listen_is_valid(const char *s) {
        struct sockaddr_storage ss;
        socklen_t len;

        return cluster_ca_listen_parse(s, &ss, &len) >= 0;
}

int sha256_fingerprint_normalize(const char *s, char ret[static SHA256_FINGERPRINT_SIZE]) {
        size_t n = 0;

        assert(s);

        for (; *s; s++) {
                if (*s == ':' && n > 0 && n % 2 == 0 && s[1] != '\0' && s[1] != ':')
                        continue;
                if (unhexchar(*s) < 0 || n >= SHA256_FINGERPRINT_SIZE - 1)
                        return -EINVAL;
                ret[n++] = (char)tolower((unsigned char)*s);
        }
        if (n != SHA256_FINGERPRINT_SIZE - 1)
                return -EINVAL;
        ret[n] = '\0';
        return 0;
}
