/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>

#include "curl-dlopen.h"
#include "curl-event.h"
#include "etcd-client.h"
#include "log.h"
#include "strv.h"

#define ETCD_REPLY_MAX          (16U * 1024U * 1024U)
#define ETCD_CONNECT_TIMEOUT_MS 1000L

struct EtcdClient {
        sd_event *event;
        CurlEvent *curl;
        char **endpoints;
        size_t n_endpoints;
        size_t current; /* the endpoint the next call tries first */
        char *ca_file, *cert_file, *key_file;
        usec_t timeout;
        const char *protocols; /* "https" once any TLS key is set, else "http,https" */
        EtcdCall *calls;
};

struct EtcdCall {
        EtcdClient *client;
        CURL *easy;
        struct curl_slist *headers;
        char *path, *body;
        char *buf; /* the reply so far (unary) or the incomplete line (stream) */
        size_t size;
        bool stream;
        bool overflow;
        size_t endpoint; /* the endpoint this attempt goes to */
        size_t attempts; /* endpoints tried */
        etcd_reply_t reply;
        etcd_message_t message;
        void *userdata;
        EtcdCall *next, *prev;
};

static void call_free(EtcdCall *call) {
        EtcdClient *c;

        if (!call)
                return;
        c = call->client;
        LIST_REMOVE(c->calls, call);
        if (call->easy) {
                (void)curl_event_remove(c->curl, call->easy);
                sym_curl_easy_cleanup(call->easy);
        }
        sym_curl_slist_free_all(call->headers);
        free(call->path);
        free(call->body);
        free(call->buf);
        free(call);
}

bool etcd_call_on_current_endpoint(EtcdCall *call) {
        assert(call);
        return call->endpoint == call->client->current;
}

void etcd_call_cancel(EtcdCall *call) {
        call_free(call);
}

EtcdClient *etcd_client_free(EtcdClient *c) {
        if (!c)
                return NULL;
        while (c->calls)
                call_free(c->calls);
        curl_event_free(c->curl);
        sd_event_unref(c->event);
        strv_free(c->endpoints);
        free(c->ca_file);
        free(c->cert_file);
        free(c->key_file);
        free(c);
        return NULL;
}

static int strdup_opt(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int etcd_client_new(sd_event *event, const EtcdClientOptions *o, EtcdClient **ret) {
        _cleanup_(etcd_client_freep) EtcdClient *c = NULL;
        int r;

        assert(event);
        assert(o);
        assert(ret);

        if (strv_length(o->endpoints) == 0)
                return -EINVAL;
        /* Loaded here, at start, only in cluster mode (curl-dlopen.h). */
        r = dlopen_curl();
        if (r < 0)
                return log_error_errno(r, "Cluster mode needs %s.", CURL_SONAME);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->endpoints = strv_copy(o->endpoints);
        if (!c->endpoints)
                return -ENOMEM;
        c->n_endpoints = strv_length(c->endpoints);
        c->timeout = o->timeout ?: 3 * USEC_PER_SEC;
        if (strdup_opt(o->ca_file, &c->ca_file) < 0 || strdup_opt(o->cert_file, &c->cert_file) < 0 ||
                strdup_opt(o->key_file, &c->key_file) < 0)
                return -ENOMEM;
        /* With any TLS key every call goes over TLS (docs/configuration.md, "cluster"): an http://
         * endpoint is refused here as in the configuration, and curl is held to https. */
        if (c->ca_file || c->cert_file || c->key_file) {
                STRV_FOREACH (e, c->endpoints)
                        if (strncmp(*e, "https://", 8) != 0)
                                return log_error_errno(-EINVAL,
                                        "etcd endpoint %s is not https:// but TLS options are set.", *e);
                c->protocols = "https";
        } else
                c->protocols = "http,https";

        r = curl_event_new(event, &c->curl);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

/* Hands complete lines of a stream to the caller. */
static void stream_deliver(EtcdCall *call) {
        char *start = call->buf, *nl;
        size_t left = call->size;

        while (left > 0 && (nl = memchr(start, '\n', left))) {
                *nl = 0;
                if (nl > start)
                        call->message(call->client, start, call->userdata);
                left -= (size_t)(nl - start) + 1;
                start = nl + 1;
        }
        memmove(call->buf, start, left);
        call->size = left;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
        EtcdCall *call = userdata;
        size_t n = size * nmemb;
        char *b;

        if (call->size + n + 1 > ETCD_REPLY_MAX) {
                call->overflow = true;
                return 0; /* aborts the transfer */
        }
        b = realloc(call->buf, call->size + n + 1);
        if (!b)
                return 0;
        call->buf = b;
        memcpy(call->buf + call->size, ptr, n);
        call->size += n;
        call->buf[call->size] = 0;
        if (call->stream)
                stream_deliver(call);
        return n;
}

static int call_start(EtcdCall *call);

static void finish(EtcdCall *call, int error, const char *message, const char *body) {
        if (call->reply)
                call->reply(call->client, error, message, body, call->userdata);
        call_free(call);
}

static void on_done(CurlEvent *ce, CURL *easy, CURLcode result, void *userdata) {
        EtcdCall *call = userdata;
        EtcdClient *c = call->client;
        char message[CURL_ERROR_SIZE + 128];
        long status = 0;
        int r;

        (void)sym_curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);

        if (result == CURLE_COULDNT_CONNECT || result == CURLE_COULDNT_RESOLVE_HOST ||
                (result == CURLE_OPERATION_TIMEDOUT && status == 0 && call->size == 0) ||
                (result == CURLE_GOT_NOTHING && !call->stream)) {
                /* This member is not there (or did not answer at all): try the next one. For a
                 * transaction that timed out without an answer the member may still apply it;
                 * the compare-and-swap makes a second attempt fail instead of applying twice.
                 * Each call walks the endpoints from where it started, whatever other calls do
                 * meanwhile. */
                if (c->current == call->endpoint)
                        c->current = (call->endpoint + 1) % c->n_endpoints;
                call->endpoint = (call->endpoint + 1) % c->n_endpoints;
                if (++call->attempts < c->n_endpoints) {
                        free(call->buf);
                        call->buf = NULL;
                        call->size = 0;
                        r = call_start(call);
                        if (r >= 0)
                                return;
                }
                snprintf(message, sizeof(message), "no etcd member reachable (%s)",
                        sym_curl_easy_strerror(result));
                return finish(call, result == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH, message,
                        NULL);
        }
        if (call->overflow)
                return finish(call, -EFBIG, "etcd reply too large", NULL);
        if (result == CURLE_OPERATION_TIMEDOUT)
                return finish(call, -ETIMEDOUT, "etcd did not answer in time (no quorum?)", NULL);
        if (result != CURLE_OK) {
                snprintf(message, sizeof(message), "etcd request failed: %s",
                        sym_curl_easy_strerror(result));
                return finish(call, call->stream ? -EPIPE : -EIO, message, NULL);
        }
        if (status != 200) {
                snprintf(message, sizeof(message), "etcd answered HTTP %ld", status);
                return finish(call, -EIO, message, call->buf);
        }
        if (call->stream)
                return finish(call, -EPIPE, "etcd closed the stream", NULL);
        finish(call, 0, NULL, call->buf ?: "");
}

static int call_start(EtcdCall *call) {
        EtcdClient *c = call->client;
        _cleanup_free_ char *url = NULL;
        int r;

        if (asprintf(&url, "%s%s", c->endpoints[call->endpoint], call->path) < 0)
                return -ENOMEM;

        if (call->easy)
                sym_curl_easy_reset(call->easy);
        else {
                call->easy = sym_curl_easy_init();
                if (!call->easy)
                        return -ENOMEM;
        }

        if (sym_curl_easy_setopt(call->easy, CURLOPT_URL, url) != CURLE_OK ||
                sym_curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, call->body) != CURLE_OK ||
                sym_curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->headers) != CURLE_OK ||
                sym_curl_easy_setopt(call->easy, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
                sym_curl_easy_setopt(call->easy, CURLOPT_WRITEDATA, call) != CURLE_OK ||
                sym_curl_easy_setopt(call->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
                sym_curl_easy_setopt(call->easy, CURLOPT_PROTOCOLS_STR, c->protocols) != CURLE_OK ||
                sym_curl_easy_setopt(call->easy, CURLOPT_CONNECTTIMEOUT_MS, ETCD_CONNECT_TIMEOUT_MS) !=
                        CURLE_OK ||
                sym_curl_easy_setopt(call->easy, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK)
                return -EIO;
        if (!call->stream && sym_curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS,
                                     (long)(c->timeout / USEC_PER_MSEC)) != CURLE_OK)
                return -EIO;
        if (c->ca_file && sym_curl_easy_setopt(call->easy, CURLOPT_CAINFO, c->ca_file) != CURLE_OK)
                return -EIO;
        if (c->cert_file &&
                (sym_curl_easy_setopt(call->easy, CURLOPT_SSLCERT, c->cert_file) != CURLE_OK ||
                        sym_curl_easy_setopt(call->easy, CURLOPT_SSLKEY, c->key_file) != CURLE_OK))
                return -EIO;

        r = curl_event_add(c->curl, call->easy, on_done, call);
        if (r < 0)
                return r;
        return 0;
}

static int call_new(EtcdClient *c, const char *path, const char *body, bool stream, etcd_message_t message,
        etcd_reply_t reply, void *userdata, EtcdCall **ret_call) {
        EtcdCall *call;
        int r;

        assert(c);
        assert(path);
        assert(body);

        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        *call = (EtcdCall){.client = c,
                .endpoint = c->current,
                .stream = stream,
                .message = message,
                .reply = reply,
                .userdata = userdata};
        LIST_PREPEND(c->calls, call);

        call->path = strdup(path);
        call->body = strdup(body);
        call->headers = sym_curl_slist_append(NULL, "Content-Type: application/json");
        /* A stream (the watch) asks for etcd's require-leader: a member cut off from the leader
         * ends it instead of keeping it open without events. */
        if (call->headers && stream) {
                struct curl_slist *h = sym_curl_slist_append(call->headers, "Grpc-Metadata-hasleader: true");
                if (h)
                        call->headers = h;
                else {
                        sym_curl_slist_free_all(call->headers);
                        call->headers = NULL;
                }
        }
        if (!call->path || !call->body || !call->headers) {
                call_free(call);
                return -ENOMEM;
        }
        r = call_start(call);
        if (r < 0) {
                call_free(call);
                return r;
        }
        if (ret_call)
                *ret_call = call;
        return 0;
}

int etcd_client_call(EtcdClient *c, const char *path, const char *body, etcd_reply_t reply, void *userdata,
        EtcdCall **ret_call) {
        assert(reply);
        return call_new(c, path, body, false, NULL, reply, userdata, ret_call);
}

int etcd_client_stream(EtcdClient *c, const char *path, const char *body, etcd_message_t message,
        etcd_reply_t end, void *userdata, EtcdCall **ret_call) {
        assert(message);
        assert(end);
        return call_new(c, path, body, true, message, end, userdata, ret_call);
}
