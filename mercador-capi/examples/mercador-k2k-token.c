/*
 * mercador-k2k-token: a token on a service provider through
 * Keystone-to-Keystone, its expiry, and the catalogs of every cloud, with
 * Mercador's C ABI.
 *
 *   mercador-k2k-token [--cloud NAME] [--service-provider ID] [--project-id ID] [--peak-memory]
 *
 * The home cloud is NAME of clouds.yaml ($OS_CLIENT_CONFIG_FILE,
 * ./clouds.yaml, ~/.config/openstack/clouds.yaml...), or else the auth JSON
 * in $MERCADOR_AUTH_JSON (a clouds.yaml cloud entry as JSON). Without
 * --service-provider the token is a home token. The token itself is never
 * printed. --peak-memory prints the process's peak resident memory (VmHWM)
 * on standard error at the end.
 *
 * Build: cc -Wall -Wextra -Werror mercador-k2k-token.c $(pkg-config --cflags --libs mercador)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mercador.h>

static int fail(const char *what, mercador_result result) {
  const char *message = mercador_last_error_message();
  fprintf(stderr, "mercador-k2k-token: %s: %s: %s\n", what, mercador_result_name((int)result),
          message ? message : "(no message)");
  return 1;
}

/* json's value at the pointer made of fmt (see mercador_json_get), or NULL. */
static char *get(const char *json, const char *fmt, int i, int j, int k) {
  char pointer[128];
  char *out = NULL;
  snprintf(pointer, sizeof pointer, fmt, i, j, k);
  if (mercador_json_get(json, pointer, &out) != MERCADOR_RESULT_OK) return NULL;
  return out;
}

static void print_catalogs(const char *catalogs) {
  for (int i = 0;; i++) {
    char *cloud = get(catalogs, "/%d/cloud", i, 0, 0);
    if (cloud == NULL) break;
    char *keystone = get(catalogs, "/%d/keystone", i, 0, 0);
    char *error = get(catalogs, "/%d/error/message", i, 0, 0);
    printf("cloud %s (%s)%s%s\n", cloud, keystone ? keystone : "?", error ? ": " : "", error ? error : "");
    for (int j = 0; error == NULL; j++) {
      char *type = get(catalogs, "/%d/catalog/%d/type", i, j, 0);
      if (type == NULL) break;
      for (int k = 0;; k++) {
        char *url = get(catalogs, "/%d/catalog/%d/endpoints/%d/url", i, j, k);
        if (url == NULL) break;
        char *interface = get(catalogs, "/%d/catalog/%d/endpoints/%d/interface", i, j, k);
        char *region = get(catalogs, "/%d/catalog/%d/endpoints/%d/region_id", i, j, k);
        printf("  %-12s %-8s %-12s %s\n", type, interface ? interface : "", region ? region : "", url);
        mercador_string_free(url);
        mercador_string_free(interface);
        mercador_string_free(region);
      }
      mercador_string_free(type);
    }
    mercador_string_free(cloud);
    mercador_string_free(keystone);
    mercador_string_free(error);
  }
}

static void print_peak_memory(void) {
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  while (status != NULL && fgets(line, sizeof line, status) != NULL) {
    if (strncmp(line, "VmHWM:", 6) == 0) fprintf(stderr, "peak memory %s", line + 6);
  }
  if (status != NULL) fclose(status);
}

int main(int argc, char **argv) {
  const char *cloud_name = NULL, *sp = NULL, *project = NULL;
  int peak_memory = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--cloud") == 0 && i + 1 < argc) {
      cloud_name = argv[++i];
    } else if (strcmp(argv[i], "--service-provider") == 0 && i + 1 < argc) {
      sp = argv[++i];
    } else if (strcmp(argv[i], "--project-id") == 0 && i + 1 < argc) {
      project = argv[++i];
    } else if (strcmp(argv[i], "--peak-memory") == 0) {
      peak_memory = 1;
    } else {
      fprintf(stderr,
              "usage: %s [--cloud NAME] [--service-provider ID] [--project-id ID] [--peak-memory]\n"
              "  (without --cloud: the auth JSON in $MERCADOR_AUTH_JSON)\n",
              argv[0]);
      return 2;
    }
  }

  mercador_cloud *cloud = NULL;
  mercador_result result;
  if (cloud_name != NULL) {
    result = mercador_cloud_from_clouds_yaml(cloud_name, NULL, &cloud);
  } else if (getenv("MERCADOR_AUTH_JSON") != NULL) {
    result = mercador_cloud_from_json(getenv("MERCADOR_AUTH_JSON"), &cloud);
  } else {
    fprintf(stderr, "mercador-k2k-token: give --cloud NAME or set MERCADOR_AUTH_JSON\n");
    return 2;
  }
  if (result != MERCADOR_RESULT_OK) return fail("loading the cloud", result);

  int status = 0;
  char *token = NULL, *info = NULL, *catalogs = NULL;
  result = mercador_cloud_token(cloud, sp, project, &token, &info);
  if (result != MERCADOR_RESULT_OK) {
    status = fail(sp ? "K2K token" : "home token", result);
  } else {
    char *expires = get(info, "/expires_at", 0, 0, 0);
    char *project_name = get(info, "/project/name", 0, 0, 0);
    char *project_id = get(info, "/project/id", 0, 0, 0);
    printf("token on %s: expires at %s, project %s (%s)\n", sp ? sp : "home", expires ? expires : "?",
           project_name ? project_name : "-", project_id ? project_id : "-");
    mercador_string_free(expires);
    mercador_string_free(project_name);
    mercador_string_free(project_id);
    result = mercador_cloud_catalogs(cloud, &catalogs);
    if (result != MERCADOR_RESULT_OK) {
      status = fail("catalogs", result);
    } else {
      print_catalogs(catalogs);
    }
  }
  mercador_string_free(token); /* zeroed before it is released */
  mercador_string_free(info);
  mercador_string_free(catalogs);
  mercador_cloud_free(cloud);
  if (peak_memory) print_peak_memory();
  return status;
}
