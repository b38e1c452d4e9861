#!/usr/bin/env python3
"""The reference client: a K2K login with keystoneauth1's Keystone2Keystone.

Reads the password from the environment (K2K_PASSWORD) so it never appears in
a process list, prints one JSON object describing the service-provider token
(without the token itself). With --images-in REGION, also the ids of the
images Glance (found in the token's catalog, in that region) lists for it.
"""
import argparse
import json
import os

from keystoneauth1 import session
from keystoneauth1.identity import v3

p = argparse.ArgumentParser()
p.add_argument('--idp-url', required=True)
p.add_argument('--user', required=True)
p.add_argument('--project', required=True)
p.add_argument('--sp', required=True)
p.add_argument('--sp-project', required=True)
p.add_argument('--sp-project-domain', required=True)
p.add_argument('--images-in', metavar='REGION')
a = p.parse_args()

pw = v3.Password(auth_url=a.idp_url, username=a.user, password=os.environ['K2K_PASSWORD'],
                 user_domain_name='Default', project_name=a.project, project_domain_name='Default')
k2k = v3.Keystone2Keystone(pw, a.sp, project_name=a.sp_project, project_domain_name=a.sp_project_domain)
sess = session.Session(auth=k2k)
ref = k2k.get_access(sess)
images = None
if a.images_in:
    reply = sess.get('/v2/images', endpoint_filter={'service_type': 'image', 'interface': 'public',
                                                    'region_name': a.images_in})
    images = sorted(i['id'] for i in reply.json()['images'])
print(json.dumps({
    'user_id': ref.user_id,
    'user_name': ref.username,
    'user_domain_id': ref.user_domain_id,
    'project_id': ref.project_id,
    'project_name': ref.project_name,
    'roles': sorted(ref.role_names),
    'is_federated': ref.is_federated,
    'images': images,
}))
