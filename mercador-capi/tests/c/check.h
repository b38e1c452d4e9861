/* Small TAP-style checks for the C test programs of mercador-capi: one
 * "ok N - what" or "not ok N - what: why" line per check, a closing
 * "# N passed, M failed" line, and exit status 1 when a check failed. */
#ifndef MERCADOR_CHECK_H
#define MERCADOR_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mercador.h"

static int checks_passed, checks_failed;

static void check_line(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check_line(int ok, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  printf("%s %d - ", ok ? "ok" : "not ok", checks_passed + checks_failed + 1);
  vprintf(fmt, args);
  printf("\n");
  fflush(stdout);
  va_end(args);
  if (ok) checks_passed++; else checks_failed++;
}

/* A call's result is the expected one; otherwise says what came back and why. */
static int expect_result(const char *what, mercador_result got, mercador_result want) {
  if (got == want) {
    check_line(1, "%s: %s", what, mercador_result_name((int)got));
    return 1;
  }
  const char *message = mercador_last_error_message();
  check_line(0, "%s: expected %s, got %s (%s)", what, mercador_result_name((int)want),
             mercador_result_name((int)got), message ? message : "no message");
  return 0;
}

/* The call failed with `want`, a message, and HTTP status `status` (0: none). */
static int expect_error(const char *what, mercador_result got, mercador_result want, int status) {
  if (!expect_result(what, got, want)) return 0;
  const char *message = mercador_last_error_message();
  int ok = message != NULL && message[0] != '\0' && mercador_last_error_status() == status;
  check_line(ok, "%s: message and HTTP status %d (got %d: %s)", what, status, (int)mercador_last_error_status(),
             message ? message : "NULL");
  return ok;
}

/* Both NULL, or the same string. */
static inline int same_or_null(const char *got, const char *want) {
  return (got == NULL && want == NULL) || (got != NULL && want != NULL && strcmp(got, want) == 0);
}

/* The last error's outage: its dependency and kind (NULL: none expected) and
 * Retry-After in seconds (0: none). */
static int expect_outage(const char *what, const char *dependency, const char *outage, unsigned retry_after) {
  const char *got_dependency = mercador_last_error_dependency();
  const char *got_outage = mercador_last_error_outage();
  unsigned got_retry_after = (unsigned)mercador_last_error_retry_after();
  int ok = same_or_null(got_dependency, dependency) && same_or_null(got_outage, outage) &&
           got_retry_after == retry_after;
  check_line(ok, "%s: dependency %s, outage %s, retry after %u s (got %s, %s, %u)", what,
             dependency ? dependency : "NULL", outage ? outage : "NULL", retry_after,
             got_dependency ? got_dependency : "NULL", got_outage ? got_outage : "NULL", got_retry_after);
  return ok;
}

#define EXPECT_OK(what, call) expect_result((what), (call), MERCADOR_RESULT_OK)
#define CHECK(cond, ...) check_line((cond) ? 1 : 0, __VA_ARGS__)

/* A value of a JSON document (see mercador_json_get), or NULL; free it with mercador_string_free. */
static inline char *json_get(const char *json, const char *pointer) {
  char *out = NULL;
  if (json == NULL || mercador_json_get(json, pointer, &out) != MERCADOR_RESULT_OK) return NULL;
  return out;
}

/* True when json's value at pointer is the string want. */
static inline int json_is(const char *json, const char *pointer, const char *want) {
  char *got = json_get(json, pointer);
  int same = got != NULL && strcmp(got, want) == 0;
  mercador_string_free(got);
  return same;
}

static inline const char *env_or_die(const char *name) {
  const char *value = getenv(name);
  if (value == NULL || value[0] == '\0') {
    fprintf(stderr, "%s is not set (the C tests are run by mercador-server/tests/capi.rs)\n", name);
    exit(2);
  }
  return value;
}

static int check_summary(void) {
  printf("# %d passed, %d failed\n", checks_passed, checks_failed);
  return checks_failed == 0 ? 0 : 1;
}

#endif
