/* The whole story through the C ABI, against the real services and the
 * testbed: B's admin onboards a partner and publishes a vregion (every
 * operation of the admin face), the partner subscribes and cancels on the
 * exchange face, A's admin registers the publisher, discovers and binds
 * (every operation of the subscriber face), alice gets K2K tokens and the
 * catalogs of every cloud (8 threads sharing one handle), the example runs
 * (and once under valgrind), B revokes and A notices; errors 403, 404, 409;
 * an outage: a subscribe with the publisher down (the last error's
 * dependency, outage, Retry-After and interrupted operation).
 *
 * Environment (set by mercador-server/tests/capi.rs): MERCADOR_T_CLOUDS_YAML,
 * MERCADOR_T_PUBLISHER_URL, MERCADOR_T_SUBSCRIBER_URL (roots, ending in /),
 * MERCADOR_T_B_URL, MERCADOR_T_B_REGION, MERCADOR_T_A_URL,
 * MERCADOR_T_ENTITY_ID, MERCADOR_T_METADATA_URL, MERCADOR_T_ALICE_AUTH_JSON,
 * MERCADOR_T_PREFIX; optional MERCADOR_T_EXAMPLE (the example's path) and
 * MERCADOR_T_VALGRIND (a valgrind command line to run it under). */
#include <pthread.h>

#include "check.h"

#define THREADS 8
#define ROUNDS 3

static char names[4][128];
#define PARTNER names[0]
#define VREGION names[1]
#define PUBLISHER names[2]
#define ALIAS names[3]

static const char *env_url_publisher, *env_url_subscriber;

/* ---- 8 threads, one handle */

struct worker {
  mercador_cloud *cloud;
  const char *sp;
  mercador_result results[ROUNDS];
  char *tokens[ROUNDS];
};

static void *issue_tokens(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < ROUNDS; i++) w->results[i] = mercador_cloud_token(w->cloud, w->sp, NULL, &w->tokens[i], NULL);
  return NULL;
}

static void threads(const char *alice_json, const char *sp) {
  mercador_cloud *cloud = NULL;
  if (!EXPECT_OK("a fresh cloud of alice for the threads", mercador_cloud_from_json(alice_json, &cloud))) return;
  struct worker workers[THREADS];
  pthread_t ids[THREADS];
  memset(workers, 0, sizeof workers);
  int started = 0;
  for (int t = 0; t < THREADS; t++) {
    workers[t].cloud = cloud;
    workers[t].sp = sp;
    if (pthread_create(&ids[t], NULL, issue_tokens, &workers[t]) == 0) started++;
  }
  CHECK(started == THREADS, "%d threads started", started);
  for (int t = 0; t < started; t++) pthread_join(ids[t], NULL);
  int ok = 0, same = 0;
  for (int t = 0; t < started; t++) {
    for (int i = 0; i < ROUNDS; i++) {
      if (workers[t].results[i] == MERCADOR_RESULT_OK && workers[t].tokens[i] != NULL) ok++;
      if (workers[t].tokens[i] && workers[0].tokens[0] && strcmp(workers[t].tokens[i], workers[0].tokens[0]) == 0)
        same++;
    }
  }
  CHECK(ok == THREADS * ROUNDS, "%d of %d K2K tokens issued by %d threads sharing one handle", ok, THREADS * ROUNDS,
        THREADS);
  CHECK(same == THREADS * ROUNDS, "one K2K login for all of them: %d of %d tokens are the same", same,
        THREADS * ROUNDS);
  for (int t = 0; t < THREADS; t++)
    for (int i = 0; i < ROUNDS; i++) mercador_string_free(workers[t].tokens[i]);
  mercador_cloud_free(cloud);
}

/* ---- the example, plain and under valgrind */

static void run_example(const char *sp) {
  const char *example = getenv("MERCADOR_T_EXAMPLE");
  const char *valgrind = getenv("MERCADOR_T_VALGRIND");
  if (example == NULL) return;
  char command[2048];
  snprintf(command, sizeof command, "%s --service-provider %s --peak-memory", example, sp);
  printf("# running %s\n", command);
  fflush(stdout);
  CHECK(system(command) == 0, "the example mercador-k2k-token prints a K2K token's expiry and the catalogs");
  if (valgrind != NULL) {
    snprintf(command, sizeof command, "%s %s --service-provider %s", valgrind, example, sp);
    printf("# running %s\n", command);
    fflush(stdout);
    CHECK(system(command) == 0, "the example under valgrind: no error, no leak");
  }
}

/* ---- the publisher's admin and exchange faces */

static int contains(const char *json, const char *s) { return json != NULL && strstr(json, s) != NULL; }

/* The operation the last error says continues in the background. */
static void expect_operation(const char *what, const char *name, const char *binding, const char *state,
                             const char *step) {
  mercador_interrupted_operation op = {NULL, NULL, NULL, NULL, NULL, NULL};
  int got = mercador_last_error_operation(&op);
  int ok = got && same_or_null(op.name, name) && same_or_null(op.binding, binding) && same_or_null(op.state, state) &&
           (step == NULL || same_or_null(op.step, step)) && op.follow != NULL &&
           strstr(op.follow, "mercador binding show") != NULL && strstr(op.follow, binding) != NULL &&
           op.subscription == NULL; /* the subscriber's answer names the binding, no subscription */
  check_line(ok, "%s: the %s of %s continues in the background (state %s, step %s; got %s: %s of %s, %s, %s; %s)",
             what, name, binding, state, step ? step : "any", got ? "one" : "none", op.name ? op.name : "NULL",
             op.binding ? op.binding : "NULL", op.state ? op.state : "NULL", op.step ? op.step : "NULL",
             op.follow ? op.follow : "NULL");
}

/* A real outage as the subscriber service sees it: a publisher registered
 * where none runs now (nothing listens on 127.0.0.1:9, as for a stopped
 * publisher: connection refused). A subscribe answers 503
 * publisher_unavailable with Retry-After and the operation that continues
 * in the background, again when asked again; a cancel ends it. */
static void outage(mercador_subscriber *subscriber, const char *b_url, const char *cred_id, const char *cred_secret) {
  char down[160], alias[160], buf[1024];
  char *out = NULL;
  snprintf(down, sizeof down, "%s-down", PUBLISHER);
  snprintf(alias, sizeof alias, "%sd", ALIAS);
  snprintf(buf, sizeof buf,
           "{\"name\": \"%s\", \"keystone_url\": \"%s\", \"exchange_url\": \"http://127.0.0.1:9/v1/exchange\", "
           "\"application_credential_id\": \"%s\", \"application_credential_secret\": \"%s\"}",
           down, b_url, cred_id ? cred_id : "", cred_secret ? cred_secret : "");
  int registered = EXPECT_OK("register a publisher that is down", mercador_subscriber_register_publisher(subscriber, buf, &out));
  memset(buf, 0, sizeof buf);
  if (!registered) return;
  mercador_string_free(out);
  out = NULL;

  expect_error("bind with the publisher down", mercador_subscriber_bind(subscriber, down, VREGION, alias, &out),
               MERCADOR_RESULT_UNAVAILABLE, 503);
  expect_outage("bind with the publisher down", "publisher", "unreachable", 10);
  expect_operation("bind with the publisher down", "subscribe", alias, "provisioning", "remote_subscribe");
  const char *message = mercador_last_error_message();
  CHECK(message && strstr(message, "publisher_unavailable") && strstr(message, "continues in the background"),
        "the message names the code and says the subscribe goes on: %s", message ? message : "NULL");
  CHECK(out == NULL, "no out-parameter written by the interrupted bind");
  expect_error("bind again: harmless, the same answer", mercador_subscriber_bind(subscriber, down, VREGION, alias, &out),
               MERCADOR_RESULT_UNAVAILABLE, 503);
  expect_operation("bind again", "subscribe", alias, "provisioning", "remote_subscribe");
  if (EXPECT_OK("the binding is kept", mercador_subscriber_get_binding(subscriber, alias, &out))) {
    CHECK(json_is(out, "/state", "provisioning"), "the binding is provisioning");
    mercador_string_free(out);
    out = NULL;
  }
  expect_outage("a success clears the outage", NULL, NULL, 0);
  CHECK(!mercador_last_error_operation(NULL), "and the operation");

  /* The publisher never got the subscribe: the cancel needs nothing of it. (A
   * cancel that an outage interrupts is tested on the services,
   * mercador-server/tests/outages.rs; its operation reaches C the same way.) */
  if (EXPECT_OK("cancel", mercador_subscriber_cancel_binding(subscriber, alias, false, &out))) {
    CHECK(json_is(out, "/state", "cancelled"), "the binding is cancelled");
    mercador_string_free(out);
  }
  EXPECT_OK("remove the publisher that is down", mercador_subscriber_remove_publisher(subscriber, down));
}

int main(void) {
  const char *clouds_yaml = env_or_die("MERCADOR_T_CLOUDS_YAML");
  const char *alice_json = env_or_die("MERCADOR_T_ALICE_AUTH_JSON");
  const char *prefix = env_or_die("MERCADOR_T_PREFIX");
  const char *b_url = env_or_die("MERCADOR_T_B_URL");
  const char *a_url = env_or_die("MERCADOR_T_A_URL");
  env_url_publisher = env_or_die("MERCADOR_T_PUBLISHER_URL");
  env_url_subscriber = env_or_die("MERCADOR_T_SUBSCRIBER_URL");
  snprintf(PARTNER, sizeof PARTNER, "%s-partner", prefix);
  snprintf(VREGION, sizeof VREGION, "%s-vr", prefix);
  snprintf(PUBLISHER, sizeof PUBLISHER, "%s-pub", prefix);
  snprintf(ALIAS, sizeof ALIAS, "%s-alias", prefix);
  char buf[4096], missing[160];
  snprintf(missing, sizeof missing, "%s-missing", prefix);
  char *out = NULL;

  mercador_cloud *b_admin = NULL, *a_admin = NULL, *partner = NULL, *alice = NULL;
  mercador_publisher_admin *admin = NULL, *partner_admin = NULL, *by_catalog = NULL;
  mercador_exchange *exchange = NULL;
  mercador_subscriber *subscriber = NULL, *alice_subscriber = NULL;

  if (!EXPECT_OK("B's admin from clouds.yaml", mercador_cloud_from_clouds_yaml("testbed-b", clouds_yaml, &b_admin)) ||
      !EXPECT_OK("publisher_admin_new", mercador_publisher_admin_new(b_admin, env_url_publisher, &admin)))
    return check_summary();
  mercador_result found = mercador_publisher_admin_new(b_admin, NULL, &by_catalog);
  CHECK(found == MERCADOR_RESULT_OK, "publisher_admin_new from B's catalog: %s", mercador_result_name((int)found));
  mercador_publisher_admin_free(by_catalog);

  /* Partner: onboard (the credential, this once), again (409), read, 404. */
  char *onboarded = NULL;
  if (!EXPECT_OK("onboard_partner", mercador_publisher_admin_onboard_partner(admin, PARTNER, "C ABI test", &onboarded)))
    return check_summary();
  char *cred_id = json_get(onboarded, "/application_credential_id");
  char *cred_secret = json_get(onboarded, "/application_credential_secret");
  CHECK(cred_id && cred_secret, "the onboarding answer holds the application credential");
  expect_error("onboard_partner again", mercador_publisher_admin_onboard_partner(admin, PARTNER, NULL, &out),
               MERCADOR_RESULT_CONFLICT, 409);
  if (EXPECT_OK("get_partner", mercador_publisher_admin_get_partner(admin, PARTNER, &out))) {
    CHECK(json_is(out, "/name", PARTNER), "get_partner names it");
    CHECK(!contains(out, cred_secret), "no secret in the partner's view");
    mercador_string_free(out);
  }
  if (EXPECT_OK("list_partners", mercador_publisher_admin_list_partners(admin, &out))) {
    CHECK(contains(out, PARTNER), "list_partners lists it");
    mercador_string_free(out);
  }
  expect_error("get_partner(missing)", mercador_publisher_admin_get_partner(admin, missing, &out),
               MERCADOR_RESULT_NOT_FOUND, 404);

  /* Vregion: define, read, replace, publish; a refused spec. */
  snprintf(buf, sizeof buf,
           "{\"name\": \"%s\", \"region\": \"%s\", \"service_types\": [\"identity\"], \"roles\": [\"member\", "
           "\"reader\"], \"max_subscriptions\": 5, \"partners\": [\"%s\"]}",
           VREGION, env_or_die("MERCADOR_T_B_REGION"), PARTNER);
  if (EXPECT_OK("create_vregion", mercador_publisher_admin_create_vregion(admin, buf, &out))) {
    CHECK(json_is(out, "/name", VREGION), "create_vregion answers the vregion");
    mercador_string_free(out);
  }
  expect_error("create_vregion again", mercador_publisher_admin_create_vregion(admin, buf, &out),
               MERCADOR_RESULT_CONFLICT, 409);
  expect_result("create_vregion without a region",
                mercador_publisher_admin_create_vregion(admin, "{\"name\": \"x\"}", &out),
                MERCADOR_RESULT_INVALID_INPUT);
  if (EXPECT_OK("get_vregion", mercador_publisher_admin_get_vregion(admin, VREGION, &out))) mercador_string_free(out);
  if (EXPECT_OK("list_vregions", mercador_publisher_admin_list_vregions(admin, &out))) {
    CHECK(contains(out, VREGION), "list_vregions lists it");
    mercador_string_free(out);
  }
  expect_error("get_vregion(missing)", mercador_publisher_admin_get_vregion(admin, missing, &out),
               MERCADOR_RESULT_NOT_FOUND, 404);
  snprintf(buf, sizeof buf,
           "{\"name\": \"%s\", \"description\": \"from C\", \"region\": \"%s\", \"service_types\": [\"identity\"], "
           "\"roles\": [\"member\", \"reader\"], \"max_subscriptions\": 5, \"partners\": [\"%s\"]}",
           VREGION, env_or_die("MERCADOR_T_B_REGION"), PARTNER);
  if (EXPECT_OK("replace_vregion", mercador_publisher_admin_replace_vregion(admin, VREGION, buf, &out))) {
    CHECK(contains(out, "from C"), "replace_vregion changed the description");
    mercador_string_free(out);
  }
  if (EXPECT_OK("publish_vregion", mercador_publisher_admin_publish_vregion(admin, VREGION, false, &out)))
    mercador_string_free(out);

  /* The partner's face, with its application credential; 403 on the admin face. */
  snprintf(buf, sizeof buf,
           "{\"auth_type\": \"v3applicationcredential\", \"auth\": {\"auth_url\": \"%s\", "
           "\"application_credential_id\": \"%s\", \"application_credential_secret\": \"%s\"}}",
           b_url, cred_id ? cred_id : "", cred_secret ? cred_secret : "");
  EXPECT_OK("the partner's cloud from an auth JSON", mercador_cloud_from_json(buf, &partner));
  memset(buf, 0, sizeof buf);
  EXPECT_OK("exchange_new", mercador_exchange_new(partner, env_url_publisher, &exchange));
  EXPECT_OK("publisher_admin_new as the partner", mercador_publisher_admin_new(partner, env_url_publisher, &partner_admin));
  expect_error("the admin face as the partner", mercador_publisher_admin_list_vregions(partner_admin, &out),
               MERCADOR_RESULT_FORBIDDEN, 403);
  if (EXPECT_OK("list_offers", mercador_exchange_list_offers(exchange, &out))) {
    CHECK(contains(out, VREGION), "the vregion is offered to the partner");
    mercador_string_free(out);
  }
  snprintf(buf, sizeof buf, "{\"vregion\": \"%s\", \"entity_id\": \"%s\", \"metadata_url\": \"%s\", \"keystone_url\": \"%s\"}",
           VREGION, env_or_die("MERCADOR_T_ENTITY_ID"), env_or_die("MERCADOR_T_METADATA_URL"), a_url);
  expect_result("exchange_subscribe without entity_id", mercador_exchange_subscribe(exchange, "{\"vregion\": \"x\"}", &out),
                MERCADOR_RESULT_INVALID_JSON);
  char *access = NULL, *sub_id = NULL;
  if (EXPECT_OK("exchange_subscribe", mercador_exchange_subscribe(exchange, buf, &access))) {
    sub_id = json_get(access, "/subscription/id");
    CHECK(sub_id != NULL, "the access names the subscription");
    mercador_string_free(access);
  }
  if (sub_id != NULL) {
    if (EXPECT_OK("exchange_list_subscriptions", mercador_exchange_list_subscriptions(exchange, &out))) {
      CHECK(contains(out, sub_id), "the partner's subscriptions list it");
      mercador_string_free(out);
    }
    if (EXPECT_OK("exchange_get_subscription", mercador_exchange_get_subscription(exchange, sub_id, &out)))
      mercador_string_free(out);
    if (EXPECT_OK("exchange_refresh_subscription", mercador_exchange_refresh_subscription(exchange, sub_id, &out)))
      mercador_string_free(out);
    if (EXPECT_OK("admin list_subscriptions(partner)", mercador_publisher_admin_list_subscriptions(admin, PARTNER, &out))) {
      CHECK(contains(out, sub_id), "B's admin sees the partner's subscription");
      mercador_string_free(out);
    }
    if (EXPECT_OK("admin list_subscriptions(all)", mercador_publisher_admin_list_subscriptions(admin, NULL, &out)))
      mercador_string_free(out);
    if (EXPECT_OK("admin get_subscription", mercador_publisher_admin_get_subscription(admin, sub_id, &out)))
      mercador_string_free(out);
    if (EXPECT_OK("exchange_cancel_subscription", mercador_exchange_cancel_subscription(exchange, sub_id, &out))) {
      CHECK(json_is(out, "/state", "cancelled"), "the subscription is cancelled");
      mercador_string_free(out);
    }
  }
  expect_error("exchange_get_subscription(missing)", mercador_exchange_get_subscription(exchange, missing, &out),
               MERCADOR_RESULT_NOT_FOUND, 404);
  if (EXPECT_OK("admin reconcile", mercador_publisher_admin_reconcile(admin, &out))) mercador_string_free(out);

  /* ---- the subscriber's service */
  if (!EXPECT_OK("A's admin from clouds.yaml", mercador_cloud_from_clouds_yaml("testbed-a", clouds_yaml, &a_admin)) ||
      !EXPECT_OK("subscriber_new", mercador_subscriber_new(a_admin, env_url_subscriber, &subscriber)))
    return check_summary();
  snprintf(buf, sizeof buf,
           "{\"name\": \"%s\", \"keystone_url\": \"%s\", \"exchange_url\": \"%sv1/exchange\", "
           "\"application_credential_id\": \"%s\", \"application_credential_secret\": \"%s\"}",
           PUBLISHER, b_url, env_url_publisher, cred_id ? cred_id : "", cred_secret ? cred_secret : "");
  if (EXPECT_OK("register_publisher", mercador_subscriber_register_publisher(subscriber, buf, &out))) {
    CHECK(!contains(out, cred_secret), "no secret in the publisher's view");
    mercador_string_free(out);
  }
  expect_error("register_publisher again", mercador_subscriber_register_publisher(subscriber, buf, &out),
               MERCADOR_RESULT_CONFLICT, 409);
  memset(buf, 0, sizeof buf);
  if (EXPECT_OK("list_publishers", mercador_subscriber_list_publishers(subscriber, &out))) {
    CHECK(contains(out, PUBLISHER), "list_publishers lists it");
    mercador_string_free(out);
  }
  if (EXPECT_OK("get_publisher", mercador_subscriber_get_publisher(subscriber, PUBLISHER, &out))) mercador_string_free(out);
  if (EXPECT_OK("discover", mercador_subscriber_discover(subscriber, &out))) {
    CHECK(contains(out, VREGION), "discovery finds the vregion");
    mercador_string_free(out);
  }
  EXPECT_OK("alice's cloud", mercador_cloud_from_json(alice_json, &alice));
  EXPECT_OK("subscriber_new as alice", mercador_subscriber_new(alice, env_url_subscriber, &alice_subscriber));
  expect_error("the subscriber service as alice", mercador_subscriber_list_publishers(alice_subscriber, &out),
               MERCADOR_RESULT_FORBIDDEN, 403);

  char sp[200];
  snprintf(sp, sizeof sp, "mercador-%s", ALIAS);
  if (EXPECT_OK("bind", mercador_subscriber_bind(subscriber, PUBLISHER, VREGION, ALIAS, &out))) {
    CHECK(json_is(out, "/state", "active"), "the binding is active");
    mercador_string_free(out);
  }
  if (EXPECT_OK("list_bindings(all)", mercador_subscriber_list_bindings(subscriber, NULL, &out))) {
    CHECK(contains(out, ALIAS), "list_bindings lists it");
    mercador_string_free(out);
  }
  if (EXPECT_OK("list_bindings(publisher)", mercador_subscriber_list_bindings(subscriber, PUBLISHER, &out)))
    mercador_string_free(out);
  if (EXPECT_OK("get_binding", mercador_subscriber_get_binding(subscriber, ALIAS, &out))) {
    CHECK(json_is(out, "/service_provider", sp), "the binding's service provider is %s", sp);
    mercador_string_free(out);
  }
  expect_error("get_binding(missing)", mercador_subscriber_get_binding(subscriber, missing, &out),
               MERCADOR_RESULT_NOT_FOUND, 404);

  /* ---- alice through K2K */
  char *token = NULL, *info = NULL;
  if (EXPECT_OK("K2K token", mercador_cloud_token(alice, sp, NULL, &token, &info))) {
    char *expires = json_get(info, "/expires_at");
    char *project_id = json_get(info, "/project/id");
    CHECK(expires != NULL, "the K2K token expires at %s", expires ? expires : "?");
    CHECK(contains(info, "OS-FEDERATION"), "the K2K token's user is federated");
    CHECK(!contains(info, token), "the info JSON does not hold the token");
    char *again = NULL;
    EXPECT_OK("cached K2K token", mercador_cloud_token(alice, sp, NULL, &again, NULL));
    CHECK(again && strcmp(again, token) == 0, "the cached K2K token is the same");
    mercador_string_free(again);
    again = NULL;
    if (project_id != NULL &&
        EXPECT_OK("K2K token for a project id", mercador_cloud_token(alice, sp, project_id, &again, NULL)))
      mercador_string_free(again);
    mercador_string_free(expires);
    mercador_string_free(project_id);
    mercador_string_free(token);
    mercador_string_free(info);
  }
  /* alice's handle had a home token from before the binding: the K2K token
   * above took a new one, which lists the new service provider. */
  if (EXPECT_OK("service_providers", mercador_cloud_service_providers(alice, &out))) {
    CHECK(contains(out, sp), "alice's token lists %s", sp);
    mercador_string_free(out);
  }
  if (EXPECT_OK("catalogs of every cloud", mercador_cloud_catalogs(alice, &out))) {
    int found_sp = 0;
    for (int i = 0; i < 64; i++) {
      char pointer[64];
      snprintf(pointer, sizeof pointer, "/%d/cloud", i);
      char *cloud = json_get(out, pointer);
      if (cloud == NULL) break;
      if (strcmp(cloud, sp) == 0) {
        snprintf(pointer, sizeof pointer, "/%d/catalog/0/type", i);
        char *type = json_get(out, pointer);
        found_sp = type != NULL;
        mercador_string_free(type);
      }
      mercador_string_free(cloud);
    }
    CHECK(json_is(out, "/0/cloud", "home"), "home's catalog comes first");
    CHECK(found_sp, "%s's catalog through K2K", sp);
    mercador_string_free(out);
  }
  if (EXPECT_OK("projects of every cloud", mercador_cloud_projects(alice, &out))) {
    CHECK(contains(out, sp), "the projects of %s", sp);
    mercador_string_free(out);
  }
  threads(alice_json, sp);
  run_example(sp);

  /* ---- refresh, reconcile, cancel; a second binding revoked by B */
  if (EXPECT_OK("refresh_binding", mercador_subscriber_refresh_binding(subscriber, ALIAS, &out))) {
    CHECK(json_is(out, "/revoked", "false"), "not revoked");
    mercador_string_free(out);
  }
  if (EXPECT_OK("refresh_all", mercador_subscriber_refresh_all(subscriber, &out))) mercador_string_free(out);
  if (EXPECT_OK("subscriber reconcile", mercador_subscriber_reconcile(subscriber, &out))) mercador_string_free(out);
  if (EXPECT_OK("cancel_binding", mercador_subscriber_cancel_binding(subscriber, ALIAS, false, &out))) {
    CHECK(json_is(out, "/state", "cancelled"), "the binding is cancelled");
    mercador_string_free(out);
  }
  char alias2[160];
  snprintf(alias2, sizeof alias2, "%s2", ALIAS);
  char *remote = NULL;
  if (EXPECT_OK("bind again", mercador_subscriber_bind(subscriber, PUBLISHER, VREGION, alias2, &out))) {
    remote = json_get(out, "/remote_subscription_id");
    mercador_string_free(out);
  }
  if (remote != NULL) {
    if (EXPECT_OK("revoke_subscription", mercador_publisher_admin_revoke_subscription(admin, remote, true, &out)))
      mercador_string_free(out);
    if (EXPECT_OK("refresh_binding after the revocation", mercador_subscriber_refresh_binding(subscriber, alias2, &out))) {
      CHECK(json_is(out, "/revoked", "true"), "A noticed the revocation");
      mercador_string_free(out);
    }
    mercador_string_free(remote);
  }
  expect_result("cancel_binding(missing)", mercador_subscriber_cancel_binding(subscriber, missing, true, &out),
                MERCADOR_RESULT_NOT_FOUND);
  expect_outage("a 404 is no outage", NULL, NULL, 0);

  outage(subscriber, b_url, cred_id, cred_secret);

  /* ---- clean up */
  EXPECT_OK("remove_publisher", mercador_subscriber_remove_publisher(subscriber, PUBLISHER));
  expect_error("remove_publisher again", mercador_subscriber_remove_publisher(subscriber, PUBLISHER),
               MERCADOR_RESULT_NOT_FOUND, 404);
  if (EXPECT_OK("withdraw_vregion", mercador_publisher_admin_withdraw_vregion(admin, VREGION, &out)))
    mercador_string_free(out);
  EXPECT_OK("delete_vregion", mercador_publisher_admin_delete_vregion(admin, VREGION, true));
  EXPECT_OK("remove_partner", mercador_publisher_admin_remove_partner(admin, PARTNER));
  expect_error("remove_partner again", mercador_publisher_admin_remove_partner(admin, PARTNER),
               MERCADOR_RESULT_NOT_FOUND, 404);

  mercador_string_free(onboarded);
  mercador_string_free(cred_id);
  mercador_string_free(cred_secret);
  mercador_string_free(sub_id);
  mercador_publisher_admin_free(admin);
  mercador_publisher_admin_free(partner_admin);
  mercador_exchange_free(exchange);
  mercador_subscriber_free(subscriber);
  mercador_subscriber_free(alice_subscriber);
  mercador_cloud_free(b_admin);
  mercador_cloud_free(a_admin);
  mercador_cloud_free(partner);
  mercador_cloud_free(alice);
  return check_summary();
}
