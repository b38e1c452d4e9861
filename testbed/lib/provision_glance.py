"""Register the testbed's Glance in Keystone B: its service user, catalog entry and quotas.

Run by testbed.sh start with the Keystone venv's python, once Keystone B answers. Creates:
- project `service` (domain Default) and user `glance` (domain Default, password from the
  environment) with role `service` on that project (keystonemiddleware's auth_token validates
  users' tokens with it) and role `reader` on the system (oslo.limit reads the endpoint, the
  registered limits and every project's limits: Keystone's policy wants a system reader);
- service `glance` of type `image` with a public endpoint in B's region;
- registered limits (the defaults every project gets) for image_size_total (MiB),
  image_stage_total (MiB), image_count_total and image_count_uploading in that region.
Prints one line of JSON: {"service_id": ..., "endpoint_id": ...} (no secret).

Inputs (environment): KEYSTONE_B_URL, KEYSTONE_B_ADMIN_PASSWORD, KEYSTONE_B_REGION,
GLANCE_URL, GLANCE_SERVICE_PASSWORD, GLANCE_REGISTERED_LIMITS (name=value,...).
"""
import json
import os

from keystoneauth1 import session
from keystoneauth1.identity import v3

EF = {'endpoint_filter': {'service_type': 'identity', 'interface': 'public'}}


def main():
    env = os.environ
    region = env['KEYSTONE_B_REGION']
    sess = session.Session(auth=v3.Password(
        auth_url=env['KEYSTONE_B_URL'], username='admin',
        password=env['KEYSTONE_B_ADMIN_PASSWORD'], user_domain_name='Default',
        project_name='admin', project_domain_name='Default'))

    def post(path, key, body):
        return sess.post(path, json={key: body}, **EF).json()[key]

    def role_id(name):
        found = sess.get(f'/roles?name={name}', **EF).json()['roles']
        return found[0]['id'] if found else post('/roles', 'role', {'name': name})['id']

    project = post('/projects', 'project', {
        'name': 'service', 'domain_id': 'default',
        'description': 'Service users of the Mercador testbed'})
    user = post('/users', 'user', {
        'name': 'glance', 'domain_id': 'default', 'enabled': True,
        'password': env['GLANCE_SERVICE_PASSWORD'],
        'description': "Glance's service user (auth_token, oslo.limit)"})
    sess.put(f"/projects/{project['id']}/users/{user['id']}/roles/{role_id('service')}", **EF)
    sess.put(f"/system/users/{user['id']}/roles/{role_id('reader')}", **EF)

    service = post('/services', 'service', {
        'type': 'image', 'name': 'glance', 'enabled': True,
        'description': 'Glance of the Mercador testbed'})
    endpoint = post('/endpoints', 'endpoint', {
        'service_id': service['id'], 'interface': 'public', 'region_id': region,
        'url': env['GLANCE_URL'], 'enabled': True})
    limits = []
    for item in env['GLANCE_REGISTERED_LIMITS'].split(','):
        name, value = item.split('=')
        limits.append({'service_id': service['id'], 'region_id': region,
                       'resource_name': name, 'default_limit': int(value)})
    sess.post('/registered_limits', json={'registered_limits': limits}, **EF)
    print(json.dumps({'service_id': service['id'], 'endpoint_id': endpoint['id']}))


if __name__ == '__main__':
    main()
