"""Self-check of the Mercador testbed: one real Keystone-to-Keystone (K2K) login.

Run by `testbed.sh check` with the venv's python. It

1. creates temporary federation objects (names start with "selfcheck-"):
   on B an identity provider (remote id = A's SAML entityID) in a new domain, a mapping, the
   protocol saml2, a project and a group (role member on the project) for the federated users;
   on A a service provider pointing at B's federated auth URL and B's Shibboleth ECP endpoint;
2. shows that B's shibd does not trust A yet (K2K refused), then makes it trust A at run time by
   writing A's metadata to <metadata dir>/<sha1(entityID)>.xml (LocalDynamic provider, no shibd
   restart: its PID is compared before and after);
3. logs in with keystoneauth1's Keystone2Keystone plugin and with
   `openstack --os-service-provider ... token issue`;
4. always (try/finally) removes the metadata file and deletes everything it created.
   With --measure-revocation it first measures how long B keeps accepting A after the file
   was removed.

Exit status: 0 if both K2K logins worked and the cleanup was complete, non-zero otherwise.
"""
import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time

import requests
from keystoneauth1 import session
from keystoneauth1.identity import v3

EF = {'endpoint_filter': {'service_type': 'identity', 'interface': 'public'}}


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#') and '=' in line:
                k, v = line.split('=', 1)
                env[k] = v
    return env


def say(msg):
    print(f'  {msg}', flush=True)


def metadata_filename(entity_id):
    """LocalDynamic naming rule: lowercase hex SHA-1 of the entityID (no whitespace) + .xml"""
    return hashlib.sha1(entity_id.encode('utf-8')).hexdigest() + '.xml'


def write_atomically(path, data):
    tmp = f'{path}.tmp-{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def shibd_pid(env):
    try:
        with open(os.path.join(env['MERCADOR_TESTBED_STATE'], 'pids', 'shibd.pid')) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class SelfCheck:
    def __init__(self, env, args):
        self.env = env
        self.args = args
        self.tag = 'selfcheck-' + secrets.token_hex(4)
        self.a = self._admin('A')
        self.b = self._admin('B')
        self.created = []            # (description, undo callable), undone in reverse order
        self.md_path = os.path.join(env['KEYSTONE_B_SHIB_METADATA_DIR'],
                                    metadata_filename(env['KEYSTONE_A_IDP_ENTITY_ID']))
        self.md_backup = None        # content of a metadata file that existed before us
        self.md_written = False
        self.sp_id = self.idp_id = self.project = self.domain = None

    def _admin(self, which):
        e = self.env
        return session.Session(auth=v3.Password(
            auth_url=e[f'KEYSTONE_{which}_URL'], username=e[f'KEYSTONE_{which}_ADMIN_USER'],
            password=e[f'KEYSTONE_{which}_ADMIN_PASSWORD'], user_domain_name='Default',
            project_name='admin', project_domain_name='Default'))

    def _remember(self, what, undo):
        self.created.append((what, undo))

    # ------------------------------------------------------------------ federation objects
    def create_objects(self):
        e, b, a, tag = self.env, self.b, self.a, self.tag
        entity_id = e['KEYSTONE_A_IDP_ENTITY_ID']
        for idp in b.get('/OS-FEDERATION/identity_providers', **EF).json()['identity_providers']:
            if entity_id in (idp.get('remote_ids') or []):
                raise RuntimeError(
                    f"B already has identity provider {idp['id']!r} with remote id {entity_id} "
                    "(remote ids are unique); the self-check needs a testbed without it")

        dom = b.post('/domains', json={'domain': {
            'name': tag, 'description': 'testbed self-check'}}, **EF).json()['domain']['id']
        self._remember(f'B domain {tag}', lambda: (
            b.patch(f'/domains/{dom}', json={'domain': {'enabled': False}}, **EF),
            b.delete(f'/domains/{dom}', **EF)))
        prj = b.post('/projects', json={'project': {
            'name': tag + '-project', 'domain_id': dom}}, **EF).json()['project']['id']
        self._remember(f'B project {tag}-project', lambda: b.delete(f'/projects/{prj}', **EF))
        grp = b.post('/groups', json={'group': {
            'name': tag + '-users', 'domain_id': dom}}, **EF).json()['group']['id']
        self._remember(f'B group {tag}-users', lambda: b.delete(f'/groups/{grp}', **EF))
        member = b.get('/roles?name=member', **EF).json()['roles'][0]['id']
        b.put(f'/projects/{prj}/groups/{grp}/roles/{member}', **EF)

        rules = [{
            'local': [{'user': {'name': '{0}@{1}', 'type': 'ephemeral'}},
                      {'group': {'id': grp}}],
            'remote': [{'type': 'openstack_user'}, {'type': 'openstack_user_domain'}],
        }]
        b.put(f'/OS-FEDERATION/mappings/{tag}', json={'mapping': {'rules': rules}}, **EF)
        self._remember(f'B mapping {tag}',
                       lambda: b.delete(f'/OS-FEDERATION/mappings/{tag}', **EF))
        # domain_id given, so Keystone does not auto-create a domain for the IdP; the shadow
        # users of federated logins land in this domain and go away with it.
        b.put(f'/OS-FEDERATION/identity_providers/{tag}', json={'identity_provider': {
            'remote_ids': [entity_id], 'domain_id': dom, 'enabled': True,
            'description': 'Keystone A (testbed self-check)'}}, **EF)

        def del_idp_and_users():
            b.delete(f'/OS-FEDERATION/identity_providers/{tag}', **EF)
            for u in b.get(f'/users?domain_id={dom}', **EF).json()['users']:
                b.delete(f"/users/{u['id']}", **EF)
        self._remember(f'B identity provider {tag} (+ its shadow users)', del_idp_and_users)
        b.put(f'/OS-FEDERATION/identity_providers/{tag}/protocols/saml2',
              json={'protocol': {'mapping_id': tag}}, **EF)
        self._remember(f'B protocol {tag}/saml2', lambda: b.delete(
            f'/OS-FEDERATION/identity_providers/{tag}/protocols/saml2', **EF))

        auth_url = (f"{e['KEYSTONE_B_URL']}/OS-FEDERATION/identity_providers/{tag}"
                    "/protocols/saml2/auth")
        a.put(f'/OS-FEDERATION/service_providers/{tag}', json={'service_provider': {
            'auth_url': auth_url, 'sp_url': e['KEYSTONE_B_ECP_URL'], 'enabled': True,
            'description': 'Keystone B (testbed self-check)'}}, **EF)
        self._remember(f'A service provider {tag}',
                       lambda: a.delete(f'/OS-FEDERATION/service_providers/{tag}', **EF))
        self.sp_id, self.idp_id, self.project, self.domain = tag, tag, tag + '-project', tag
        say(f'B: domain/project/group {tag}, mapping {tag}, identity provider {tag} '
            f'(remote id {entity_id}), protocol saml2')
        say(f'A: service provider {tag}: auth_url={auth_url} sp_url={e["KEYSTONE_B_ECP_URL"]}')

    # ------------------------------------------------------------------ K2K
    def k2k(self):
        e = self.env
        t0 = time.perf_counter()
        pw = v3.Password(auth_url=e['KEYSTONE_A_URL'], username=e['KEYSTONE_A_DEMO_USER'],
                         password=e['KEYSTONE_A_DEMO_PASSWORD'], user_domain_name='Default',
                         project_name=e['KEYSTONE_A_DEMO_PROJECT'], project_domain_name='Default')
        k2k = v3.Keystone2Keystone(pw, self.sp_id, project_name=self.project,
                                   project_domain_name=self.domain)
        sess = session.Session(auth=k2k)   # fresh session: fresh cookies, fresh Shibboleth session
        ref = k2k.get_access(sess)
        return ref, sess, (time.perf_counter() - t0) * 1000

    def k2k_refused(self):
        try:
            self.k2k()
        except Exception as exc:      # noqa: BLE001 - any failure means "refused" here
            return f'{type(exc).__name__}: {str(exc)[:160]}'
        return None

    def trust_a(self):
        data = requests.get(self.env['KEYSTONE_A_IDP_METADATA_URL'], timeout=30)
        data.raise_for_status()
        write_atomically(self.md_path, data.content)
        self.md_written = True
        say(f'wrote A\'s metadata to {self.md_path} ({len(data.content)} bytes)')

    def untrust_a(self):
        if self.md_backup is not None:
            write_atomically(self.md_path, self.md_backup)
            say(f'restored the metadata file that existed before the check: {self.md_path}')
        elif os.path.exists(self.md_path):
            os.remove(self.md_path)
            say(f'removed {self.md_path}')
        self.md_written = False

    def measure_revocation(self, limit=180, every=2.0):
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < limit:
            n += 1
            why = self.k2k_refused()
            dt = time.monotonic() - t0
            if why:
                say(f'revocation: K2K refused {dt:.1f} s after the metadata file was removed '
                    f'(attempt {n}): {why[:100]}')
                return dt
            time.sleep(every)
        say(f'revocation: K2K still accepted {limit} s after the metadata file was removed')
        return None

    def run(self):
        e = self.env
        ok = True
        pid_before = shibd_pid(e)
        t = time.perf_counter()
        self.create_objects()
        say(f'federation objects created ({(time.perf_counter() - t):.1f} s)')

        if os.path.exists(self.md_path):
            with open(self.md_path, 'rb') as f:
                self.md_backup = f.read()
            say(f'NOTE: {self.md_path} already existed (kept; restored afterwards); '
                'skipping the "not trusted yet" check')
        else:
            why = self.k2k_refused()
            if why:
                say(f'before trusting A: K2K refused by B as expected ({why[:110]})')
            else:
                say('WARNING: K2K accepted before the metadata file was written: shibd still had '
                    "A's metadata cached from an earlier run (entries live up to ~35 s, see README)")
        self.trust_a()

        ref, sess, ms = self.k2k()
        catalog_ids = sorted({ep['url'] for s in ref.service_catalog.catalog
                              for ep in s['endpoints'] if s['type'] == 'identity'})
        print(json.dumps({
            'k2k_keystoneauth': 'OK', 'service_provider': self.sp_id,
            'token_on_B': ref.auth_token[:16] + '...', 'user': ref.username,
            'user_domain_id': ref.user_domain_id, 'project': ref.project_name,
            'project_domain': ref.project_domain_name, 'roles': ref.role_names,
            'is_federated': ref.is_federated, 'identity_endpoints': catalog_ids,
            'elapsed_ms': round(ms, 1)}, indent=1), flush=True)
        r = sess.get(e['KEYSTONE_B_URL'] + '/auth/projects')
        say(f"GET B /v3/auth/projects with the K2K token -> {r.status_code} "
            f"{[p['name'] for p in r.json().get('projects', [])]}")
        if r.status_code != 200 or ref.project_name != self.project:
            ok = False

        ok = self.cli_k2k() and ok

        pid_after = shibd_pid(e)
        if pid_before and pid_before == pid_after:
            say(f'shibd was not restarted (pid {pid_after} before and after)')
        else:
            say(f'WARNING: shibd pid changed ({pid_before} -> {pid_after})')
            ok = False
        return ok

    def cli_k2k(self):
        e = self.env
        env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
        env.update(OS_AUTH_URL=e['KEYSTONE_A_URL'], OS_IDENTITY_API_VERSION='3',
                   OS_USERNAME=e['KEYSTONE_A_DEMO_USER'], OS_PASSWORD=e['KEYSTONE_A_DEMO_PASSWORD'],
                   OS_PROJECT_NAME=e['KEYSTONE_A_DEMO_PROJECT'], OS_USER_DOMAIN_NAME='Default',
                   OS_PROJECT_DOMAIN_NAME='Default', OS_INTERFACE='public')
        cmd = [e['OPENSTACK_CLI'], '--os-service-provider', self.sp_id,
               '--os-remote-project-name', self.project,
               '--os-remote-project-domain-name', self.domain, 'token', 'issue', '-f', 'json']
        t = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            say(f'openstack --os-service-provider {self.sp_id} ... token issue FAILED '
                f'(exit {p.returncode}): {p.stderr.strip()[-600:]}')
            return False
        tok = json.loads(p.stdout)
        say(f'openstack --os-service-provider {self.sp_id} --os-remote-project-name {self.project} '
            f'--os-remote-project-domain-name {self.domain} token issue -> OK ({dt:.1f} s): '
            f"project_id on B {tok.get('project_id')}, user_id {tok.get('user_id')}, "
            f"expires {tok.get('expires')}")
        return bool(tok.get('project_id'))

    def cleanup(self):
        clean = True
        try:
            if self.md_written or self.md_backup is not None:
                self.untrust_a()
                if self.args.measure_revocation and self.md_backup is None:
                    self.measure_revocation()
        except Exception as exc:      # noqa: BLE001
            clean = False
            say(f'cleanup of the metadata file failed: {exc}')
        for what, undo in reversed(self.created):
            try:
                undo()
            except Exception as exc:  # noqa: BLE001
                clean = False
                say(f'cleanup: could not delete {what}: {exc}')
        if self.created:
            say(f'deleted: {", ".join(w for w, _ in reversed(self.created))}')
        return clean


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--env-file', required=True)
    ap.add_argument('--measure-revocation', action='store_true',
                    help='after removing the metadata file, poll K2K until B refuses it')
    args = ap.parse_args()
    check = SelfCheck(load_env(args.env_file), args)
    ok = False
    t0 = time.perf_counter()
    try:
        ok = check.run()
    except Exception as exc:          # noqa: BLE001
        say(f'K2K self-check FAILED: {type(exc).__name__}: {exc}')
    finally:
        clean = check.cleanup()
    say(f'self-check {"PASSED" if ok and clean else "FAILED"} '
        f'(k2k ok: {ok}, cleanup complete: {clean}, {time.perf_counter() - t0:.1f} s)')
    return 0 if ok and clean else 1


if __name__ == '__main__':
    sys.exit(main())
