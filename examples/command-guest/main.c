/*
 * A Strata command module written in C: no SDK, just WASI and the CGI
 * conventions. Each request runs a fresh instance of this program:
 *
 *   - the request line and headers arrive in environment variables
 *     (REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_TYPE,
 *     CONTENT_LENGTH, HTTP_<HEADER_NAME>), path parameters of the matched
 *     route in X_STRATA_PARAM_<NAME>;
 *   - the request body is on stdin;
 *   - the response goes to stdout: CGI header lines ("Status: 200 OK",
 *     "Content-Type: ..."), an empty line, then the body;
 *   - stderr is the invocation's log.
 *
 * Routes (see strata.yaml):
 *   GET  /greet/{name}  ->  "hello, <name>!"   (greeting word from the
 *                            X-Greeting request header if present)
 *   POST /echo          ->  the request body, unchanged, same Content-Type
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

static void respond_text(const char *status, const char *body) {
    printf("Status: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s", status, body);
}

static int greet(void) {
    const char *name = env_or("X_STRATA_PARAM_NAME", "stranger");
    const char *greeting = env_or("HTTP_X_GREETING", "hello");
    fprintf(stderr, "greet name=%s\n", name);
    printf("Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    printf("%s, %s!\n", greeting, name);
    return 0;
}

static int echo(void) {
    const char *type = env_or("CONTENT_TYPE", "application/octet-stream");
    /* Read the whole body first so the length header can precede it. */
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        respond_text("500 Internal Server Error", "out of memory\n");
        return 0;
    }
    for (;;) {
        if (len == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                respond_text("500 Internal Server Error", "out of memory\n");
                return 0;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, stdin);
        if (n == 0)
            break;
        len += n;
    }
    if (ferror(stdin)) {
        free(buf);
        respond_text("400 Bad Request", "could not read the request body\n");
        return 0;
    }
    fprintf(stderr, "echo bytes=%zu type=%s\n", len, type);
    printf("Status: 200 OK\r\nContent-Type: %s\r\nX-Echo-Length: %zu\r\n\r\n", type, len);
    fwrite(buf, 1, len, stdout);
    free(buf);
    return 0;
}

int main(void) {
    const char *method = env_or("REQUEST_METHOD", "GET");
    const char *path = env_or("PATH_INFO", "/");

    if (strcmp(method, "GET") == 0 && strncmp(path, "/greet/", 7) == 0)
        return greet();
    if (strcmp(method, "POST") == 0 && strcmp(path, "/echo") == 0)
        return echo();

    /* The gateway only sends the routes in strata.yaml; anything else means
     * the manifest and this program disagree. */
    fprintf(stderr, "no handler for %s %s\n", method, path);
    respond_text("404 Not Found", "not found\n");
    return 0;
}
