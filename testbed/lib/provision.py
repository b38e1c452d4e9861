"""Create the demo user of Keystone A: alice (domain Default), project demo, role member.

Run by testbed.sh start with the venv's python. Inputs (environment):
KEYSTONE_A_URL, KEYSTONE_A_ADMIN_PASSWORD, KEYSTONE_A_DEMO_PASSWORD.
"""
import os

from keystoneauth1 import session
from keystoneauth1.identity import v3

EF = {'endpoint_filter': {'service_type': 'identity', 'interface': 'public'}}


def main():
    env = os.environ
    sess = session.Session(auth=v3.Password(
        auth_url=env['KEYSTONE_A_URL'], username='admin',
        password=env['KEYSTONE_A_ADMIN_PASSWORD'], user_domain_name='Default',
        project_name='admin', project_domain_name='Default'))
    project = sess.post('/projects', json={'project': {
        'name': 'demo', 'domain_id': 'default',
        'description': 'Mercador testbed demo project'}}, **EF).json()['project']
    user = sess.post('/users', json={'user': {
        'name': 'alice', 'domain_id': 'default', 'password': env['KEYSTONE_A_DEMO_PASSWORD'],
        'default_project_id': project['id'], 'enabled': True}}, **EF).json()['user']
    role = sess.get('/roles?name=member', **EF).json()['roles'][0]
    sess.put(f"/projects/{project['id']}/users/{user['id']}/roles/{role['id']}", **EF)
    print(f"  alice ({user['id']}) has role member on project demo ({project['id']})")


if __name__ == '__main__':
    main()
