/* Misuse and errors without the services: every entry point with NULL
 * handles and out-parameters, invalid UTF-8, malformed JSON, a wrong
 * password (401), an unreachable Keystone, a timeout (with the outage each
 * is, and none for the others); plus a home token.
 * Environment: MERCADOR_T_CLOUDS_YAML, MERCADOR_T_ALICE_AUTH_JSON,
 * MERCADOR_T_ALICE_BAD_AUTH_JSON (alice with a wrong password). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define NUL_ERR(what, call) expect_error((what), (call), MERCADOR_RESULT_NULL_PARAMETER, 0)

static const char BAD_UTF8[] = {'t', 'e', 's', 't', (char)0xff, (char)0xfe, 0};

static void null_handles(void) {
  char *out = NULL;
  /* The faces, every operation, with a NULL handle: an error code, out untouched. */
  NUL_ERR("publisher_admin_list_vregions(NULL)", mercador_publisher_admin_list_vregions(NULL, &out));
  NUL_ERR("publisher_admin_get_vregion(NULL)", mercador_publisher_admin_get_vregion(NULL, "x", &out));
  NUL_ERR("publisher_admin_create_vregion(NULL)", mercador_publisher_admin_create_vregion(NULL, "{}", &out));
  NUL_ERR("publisher_admin_replace_vregion(NULL)", mercador_publisher_admin_replace_vregion(NULL, "x", "{}", &out));
  NUL_ERR("publisher_admin_delete_vregion(NULL)", mercador_publisher_admin_delete_vregion(NULL, "x", false));
  NUL_ERR("publisher_admin_publish_vregion(NULL)", mercador_publisher_admin_publish_vregion(NULL, "x", false, &out));
  NUL_ERR("publisher_admin_withdraw_vregion(NULL)", mercador_publisher_admin_withdraw_vregion(NULL, "x", &out));
  NUL_ERR("publisher_admin_list_partners(NULL)", mercador_publisher_admin_list_partners(NULL, &out));
  NUL_ERR("publisher_admin_get_partner(NULL)", mercador_publisher_admin_get_partner(NULL, "x", &out));
  NUL_ERR("publisher_admin_onboard_partner(NULL)", mercador_publisher_admin_onboard_partner(NULL, "x", NULL, &out));
  NUL_ERR("publisher_admin_remove_partner(NULL)", mercador_publisher_admin_remove_partner(NULL, "x"));
  NUL_ERR("publisher_admin_list_subscriptions(NULL)", mercador_publisher_admin_list_subscriptions(NULL, NULL, &out));
  NUL_ERR("publisher_admin_get_subscription(NULL)", mercador_publisher_admin_get_subscription(NULL, "x", &out));
  NUL_ERR("publisher_admin_revoke_subscription(NULL)",
          mercador_publisher_admin_revoke_subscription(NULL, "x", false, &out));
  NUL_ERR("publisher_admin_reconcile(NULL)", mercador_publisher_admin_reconcile(NULL, &out));
  NUL_ERR("exchange_list_offers(NULL)", mercador_exchange_list_offers(NULL, &out));
  NUL_ERR("exchange_subscribe(NULL)", mercador_exchange_subscribe(NULL, "{}", &out));
  NUL_ERR("exchange_list_subscriptions(NULL)", mercador_exchange_list_subscriptions(NULL, &out));
  NUL_ERR("exchange_get_subscription(NULL)", mercador_exchange_get_subscription(NULL, "x", &out));
  NUL_ERR("exchange_refresh_subscription(NULL)", mercador_exchange_refresh_subscription(NULL, "x", &out));
  NUL_ERR("exchange_cancel_subscription(NULL)", mercador_exchange_cancel_subscription(NULL, "x", &out));
  NUL_ERR("subscriber_register_publisher(NULL)", mercador_subscriber_register_publisher(NULL, "{}", &out));
  NUL_ERR("subscriber_list_publishers(NULL)", mercador_subscriber_list_publishers(NULL, &out));
  NUL_ERR("subscriber_get_publisher(NULL)", mercador_subscriber_get_publisher(NULL, "x", &out));
  NUL_ERR("subscriber_remove_publisher(NULL)", mercador_subscriber_remove_publisher(NULL, "x"));
  NUL_ERR("subscriber_discover(NULL)", mercador_subscriber_discover(NULL, &out));
  NUL_ERR("subscriber_bind(NULL)", mercador_subscriber_bind(NULL, "p", "v", "a", &out));
  NUL_ERR("subscriber_list_bindings(NULL)", mercador_subscriber_list_bindings(NULL, NULL, &out));
  NUL_ERR("subscriber_get_binding(NULL)", mercador_subscriber_get_binding(NULL, "x", &out));
  NUL_ERR("subscriber_refresh_binding(NULL)", mercador_subscriber_refresh_binding(NULL, "x", &out));
  NUL_ERR("subscriber_refresh_all(NULL)", mercador_subscriber_refresh_all(NULL, &out));
  NUL_ERR("subscriber_cancel_binding(NULL)", mercador_subscriber_cancel_binding(NULL, "x", false, &out));
  NUL_ERR("subscriber_reconcile(NULL)", mercador_subscriber_reconcile(NULL, &out));
  CHECK(out == NULL, "no out-parameter written by a failed call");

  /* Constructors and the cloud's calls. */
  mercador_publisher_admin *admin = NULL;
  mercador_exchange *exchange = NULL;
  mercador_subscriber *subscriber = NULL;
  NUL_ERR("publisher_admin_new(NULL cloud)", mercador_publisher_admin_new(NULL, NULL, &admin));
  NUL_ERR("exchange_new(NULL cloud)", mercador_exchange_new(NULL, NULL, &exchange));
  NUL_ERR("subscriber_new(NULL cloud)", mercador_subscriber_new(NULL, NULL, &subscriber));
  CHECK(admin == NULL && exchange == NULL && subscriber == NULL, "no handle written by a failed constructor");
  NUL_ERR("cloud_token(NULL)", mercador_cloud_token(NULL, NULL, NULL, &out, NULL));
  NUL_ERR("cloud_service_providers(NULL)", mercador_cloud_service_providers(NULL, &out));
  NUL_ERR("cloud_catalogs(NULL)", mercador_cloud_catalogs(NULL, &out));
  NUL_ERR("cloud_projects(NULL)", mercador_cloud_projects(NULL, &out));
  NUL_ERR("cloud_set_timeout_ms(NULL)", mercador_cloud_set_timeout_ms(NULL, 1000));
  NUL_ERR("cloud_from_clouds_yaml(NULL name)", mercador_cloud_from_clouds_yaml(NULL, NULL, NULL));
  NUL_ERR("cloud_from_json(NULL)", mercador_cloud_from_json(NULL, NULL));
  NUL_ERR("json_get(NULL json)", mercador_json_get(NULL, "", &out));
  NUL_ERR("json_get(NULL out)", mercador_json_get("{}", "", NULL));

  /* Releasing NULL does nothing. */
  mercador_cloud_free(NULL);
  mercador_publisher_admin_free(NULL);
  mercador_exchange_free(NULL);
  mercador_subscriber_free(NULL);
  mercador_string_free(NULL);
  CHECK(1, "_free(NULL) and mercador_string_free(NULL) do nothing");
}

static void strings_and_json(void) {
  CHECK(strcmp(mercador_result_name(MERCADOR_RESULT_NOT_FOUND), "not_found") == 0, "result name of NOT_FOUND");
  CHECK(strcmp(mercador_result_name(12345), "unknown") == 0, "result name of an unknown code");
  CHECK(strcmp(mercador_result_name(-1), "unknown") == 0, "result name of a negative code");
  CHECK(mercador_version() != NULL && strlen(mercador_version()) > 0, "version %s", mercador_version());

  char *out = NULL;
  EXPECT_OK("json_get of a string", mercador_json_get("{\"a\": [1, {\"b\": \"x\"}]}", "/a/1/b", &out));
  CHECK(out != NULL && strcmp(out, "x") == 0, "json_get gives the string unquoted");
  mercador_string_free(out);
  out = NULL;
  EXPECT_OK("json_get of a number", mercador_json_get("{\"a\": 42}", "/a", &out));
  CHECK(out != NULL && strcmp(out, "42") == 0, "json_get gives other values as JSON");
  mercador_string_free(out);
  CHECK(mercador_last_error_message() == NULL && mercador_last_error_status() == 0,
        "no last error after a success");
  CHECK(mercador_last_error_dependency() == NULL && mercador_last_error_outage() == NULL &&
            mercador_last_error_retry_after() == 0,
        "no outage after a success");
  mercador_interrupted_operation op = {NULL, NULL, NULL, NULL, NULL, NULL};
  CHECK(!mercador_last_error_operation(&op) && op.name == NULL, "no interrupted operation after a success");
  out = NULL;
  expect_error("json_get of a missing value", mercador_json_get("{}", "/nope", &out), MERCADOR_RESULT_NOT_FOUND, 0);
  expect_error("json_get of malformed JSON", mercador_json_get("{\"a\": ", "", &out), MERCADOR_RESULT_INVALID_JSON,
               0);
  expect_error("json_get of invalid UTF-8", mercador_json_get(BAD_UTF8, "", &out), MERCADOR_RESULT_INVALID_UTF8, 0);
  CHECK(out == NULL, "no out-parameter written by failed json_get");
  expect_outage("invalid UTF-8 is no outage", NULL, NULL, 0);
  CHECK(!mercador_last_error_operation(NULL), "last_error_operation(NULL) is false");
}

static void clouds(const char *clouds_yaml, const char *alice_json, const char *bad_json) {
  mercador_cloud *cloud = NULL;
  char *token = NULL, *info = NULL;

  expect_error("cloud_from_clouds_yaml(invalid UTF-8)", mercador_cloud_from_clouds_yaml(BAD_UTF8, clouds_yaml, &cloud),
               MERCADOR_RESULT_INVALID_UTF8, 0);
  expect_error("cloud_from_clouds_yaml(no such cloud)",
               mercador_cloud_from_clouds_yaml("no-such-cloud", clouds_yaml, &cloud), MERCADOR_RESULT_CONFIGURATION,
               0);
  expect_error("cloud_from_clouds_yaml(NULL out)", mercador_cloud_from_clouds_yaml("testbed-a", clouds_yaml, NULL),
               MERCADOR_RESULT_NULL_PARAMETER, 0);
  expect_error("cloud_from_json(malformed)", mercador_cloud_from_json("{\"auth\": {", &cloud),
               MERCADOR_RESULT_INVALID_JSON, 0);
  expect_error("cloud_from_json(not an object)", mercador_cloud_from_json("[1, 2]", &cloud),
               MERCADOR_RESULT_INVALID_JSON, 0);
  expect_error("cloud_from_json(invalid UTF-8)", mercador_cloud_from_json(BAD_UTF8, &cloud),
               MERCADOR_RESULT_INVALID_UTF8, 0);
  expect_error("cloud_from_json(no auth_url)", mercador_cloud_from_json("{\"auth\": {\"username\": \"u\"}}", &cloud),
               MERCADOR_RESULT_CONFIGURATION, 0);
  CHECK(cloud == NULL, "no handle written by a failed load");

  /* 401: a wrong password; the message never holds the password. */
  if (EXPECT_OK("cloud_from_json(alice, wrong password)", mercador_cloud_from_json(bad_json, &cloud))) {
    expect_error("token with a wrong password", mercador_cloud_token(cloud, NULL, NULL, &token, &info),
                 MERCADOR_RESULT_AUTHENTICATION_FAILED, 401);
    const char *message = mercador_last_error_message();
    CHECK(message && strstr(message, "wrong-password-") == NULL, "the 401 message holds no password");
    expect_outage("a 401 is no outage", NULL, NULL, 0);
    CHECK(token == NULL && info == NULL, "no token written by a failed login");
    mercador_cloud_free(cloud);
    cloud = NULL;
  }

  /* An unreachable Keystone (nothing listens on port 9). */
  if (EXPECT_OK("cloud_from_json(unreachable Keystone)",
                mercador_cloud_from_json("{\"auth\": {\"auth_url\": \"http://127.0.0.1:9/v3\", \"username\": \"u\", "
                                         "\"password\": \"p\", \"user_domain_name\": \"Default\", "
                                         "\"project_name\": \"p\", \"project_domain_name\": \"Default\"}}",
                                         &cloud))) {
    expect_error("token on an unreachable Keystone", mercador_cloud_token(cloud, NULL, NULL, &token, NULL),
                 MERCADOR_RESULT_UNAVAILABLE, 0);
    /* The server called directly: how it fails, not which of Mercador's dependencies it is. */
    expect_outage("an unreachable Keystone", NULL, "unreachable", 0);
    mercador_interrupted_operation op = {NULL, NULL, NULL, NULL, NULL, NULL};
    CHECK(!mercador_last_error_operation(&op) && op.name == NULL, "nothing interrupted by an unreachable Keystone");
    mercador_publisher_admin *admin = NULL;
    EXPECT_OK("publisher_admin_new with a URL sends nothing",
              mercador_publisher_admin_new(cloud, "http://127.0.0.1:9/", &admin));
    char *out = NULL;
    expect_error("get_vregion(invalid UTF-8)", mercador_publisher_admin_get_vregion(admin, BAD_UTF8, &out),
                 MERCADOR_RESULT_INVALID_UTF8, 0);
    expect_error("create_vregion(malformed JSON)", mercador_publisher_admin_create_vregion(admin, "{\"name\":", &out),
                 MERCADOR_RESULT_INVALID_JSON, 0);
    expect_error("get_vregion(NULL out)", mercador_publisher_admin_get_vregion(admin, "x", NULL),
                 MERCADOR_RESULT_NULL_PARAMETER, 0);
    expect_error("list_vregions with an unreachable Keystone", mercador_publisher_admin_list_vregions(admin, &out),
                 MERCADOR_RESULT_UNAVAILABLE, 0);
    expect_outage("list_vregions with an unreachable Keystone", NULL, "unreachable", 0);
    CHECK(out == NULL, "no out-parameter written");
    mercador_publisher_admin_free(admin);
    mercador_subscriber *subscriber = NULL;
    expect_error("subscriber_new(invalid URL)", mercador_subscriber_new(cloud, "not a url", &subscriber),
                 MERCADOR_RESULT_INVALID_INPUT, 0);
    expect_error("set_timeout_ms(0)", mercador_cloud_set_timeout_ms(cloud, 0), MERCADOR_RESULT_INVALID_INPUT, 0);
    mercador_cloud_free(cloud);
    cloud = NULL;
  }

  /* A Keystone that accepts the connection and never answers: the timeout. */
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener >= 0 && bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(listener, 8) == 0 &&
      getsockname(listener, (struct sockaddr *)&addr, &len) == 0) {
    char json[512];
    snprintf(json, sizeof json,
             "{\"auth\": {\"auth_url\": \"http://127.0.0.1:%d/v3\", \"username\": \"u\", \"password\": \"p\", "
             "\"user_domain_name\": \"Default\", \"project_name\": \"p\", \"project_domain_name\": \"Default\"}}",
             ntohs(addr.sin_port));
    if (EXPECT_OK("cloud_from_json(silent Keystone)", mercador_cloud_from_json(json, &cloud))) {
      EXPECT_OK("set_timeout_ms(300)", mercador_cloud_set_timeout_ms(cloud, 300));
      expect_error("token from a silent Keystone", mercador_cloud_token(cloud, NULL, NULL, &token, NULL),
                   MERCADOR_RESULT_TIMEOUT, 0);
      expect_outage("a silent Keystone", NULL, "too_slow", 0);
      mercador_cloud_free(cloud);
      cloud = NULL;
    }
  } else {
    CHECK(0, "listen on 127.0.0.1 for the timeout check");
  }
  if (listener >= 0) close(listener);

  /* A home token from clouds.yaml and from the auth JSON. */
  if (EXPECT_OK("cloud_from_clouds_yaml(testbed-a)", mercador_cloud_from_clouds_yaml("testbed-a", clouds_yaml, &cloud))) {
    EXPECT_OK("home token of A's admin (no info)", mercador_cloud_token(cloud, NULL, NULL, &token, NULL));
    CHECK(token != NULL && strlen(token) > 20, "a token string");
    mercador_string_free(token);
    token = NULL;
    mercador_cloud_free(cloud);
    cloud = NULL;
  }
  if (EXPECT_OK("cloud_from_json(alice)", mercador_cloud_from_json(alice_json, &cloud))) {
    EXPECT_OK("home token of alice", mercador_cloud_token(cloud, NULL, NULL, &token, &info));
    char *expires = json_get(info, "/expires_at");
    CHECK(expires != NULL && strlen(expires) >= 20, "the token's expiry: %s", expires ? expires : "none");
    mercador_string_free(expires);
    CHECK(info != NULL && strstr(info, token) == NULL, "the info JSON does not hold the token");
    char *again = NULL;
    EXPECT_OK("cached home token", mercador_cloud_token(cloud, NULL, NULL, &again, NULL));
    CHECK(again != NULL && token != NULL && strcmp(again, token) == 0, "the cached token is the same");
    mercador_string_free(again);
    mercador_string_free(token);
    mercador_string_free(info);
    token = info = NULL;
    expect_error("token on an unknown service provider", mercador_cloud_token(cloud, "no-such-sp", NULL, &token, NULL),
                 MERCADOR_RESULT_NOT_FOUND, 0);
    mercador_cloud_free(cloud);
  }
}

int main(void) {
  const char *clouds_yaml = env_or_die("MERCADOR_T_CLOUDS_YAML");
  const char *alice_json = env_or_die("MERCADOR_T_ALICE_AUTH_JSON");
  const char *bad_json = env_or_die("MERCADOR_T_ALICE_BAD_AUTH_JSON");
  null_handles();
  strings_and_json();
  clouds(clouds_yaml, alice_json, bad_json);
  return check_summary();
}
