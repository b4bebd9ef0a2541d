// cgi is a WASI command test guest written in C: it speaks the CGI-style
// command ABI (docs/ABI.md) and echoes what it received.
//
// Query flags: status=404 answers 404; binary=1 answers bytes 0..255;
// exit=3 exits with code 3; crlf=1 separates headers with CRLF.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env(const char *name) {
	const char *v = getenv(name);
	return v ? v : "";
}

int main(void) {
	const char *q = env("QUERY_STRING");
	fprintf(stderr, "cgi guest handling %s %s\n", env("REQUEST_METHOD"), env("PATH_INFO"));
	if (strstr(q, "exit=3")) {
		fprintf(stderr, "exiting with 3 on purpose\n");
		return 3;
	}
	if (strstr(q, "binary=1")) {
		fputs("Content-Type: application/octet-stream\n\n", stdout);
		for (int i = 0; i < 256; i++) {
			putchar(i);
		}
		return 0;
	}
	const char *nl = strstr(q, "crlf=1") ? "\r\n" : "\n";
	if (strstr(q, "status=404")) {
		printf("Status: 404 Not Found%s", nl);
	}
	printf("Content-Type: text/plain%sX-Cgi: yes%s%s", nl, nl, nl);
	printf("method=%s\n", env("REQUEST_METHOD"));
	printf("path=%s\n", env("PATH_INFO"));
	printf("query=%s\n", q);
	printf("protocol=%s\n", env("SERVER_PROTOCOL"));
	printf("content_type=%s\n", env("CONTENT_TYPE"));
	printf("content_length=%s\n", env("CONTENT_LENGTH"));
	printf("remote=%s\n", env("REMOTE_ADDR"));
	printf("header.x_test=%s\n", env("HTTP_X_TEST"));
	printf("param.id=%s\n", env("X_STRATA_PARAM_ID"));
	printf("env.GREETING=%s\n", env("GREETING"));
	fputs("body=", stdout);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
		fwrite(buf, 1, n, stdout);
	}
	putchar('\n');
	return 0;
}
