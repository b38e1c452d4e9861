#!/usr/bin/env python3
"""keystoneauth1 side of the K2K benchmark (see k2k.rs next to this file).

Input: one JSON object on stdin (URLs, user, password, service provider ids,
iteration counts). Output: one JSON object mapping each case to its samples in
milliseconds. The same cases, in the same order, as the Rust side.
"""
import concurrent.futures
import json
import resource
import sys
import time

from keystoneauth1 import session
from keystoneauth1.identity import v3

cfg = json.load(sys.stdin)


def password():
    return v3.Password(auth_url=cfg['idp_url'], username=cfg['user'], password=cfg['password'],
                       user_domain_name='Default', project_name=cfg['project'],
                       project_domain_name='Default')


def k2k_plugin(local, sp):
    return v3.Keystone2Keystone(local, sp, project_name=cfg['sp_project'],
                                project_domain_name=cfg['sp_project_domain'])


def timed(fn, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


results = {}
sp = cfg['sp']

# 1. fresh: password login on A, ECP, Shibboleth, federated login, rescoping.
def fresh():
    k = k2k_plugin(password(), sp)
    k.get_access(session.Session(auth=k))
results['fresh'] = timed(fresh, cfg['iterations'])

# 2. the IdP token is cached: only the K2K part.
local = password()
sess = session.Session(auth=local)
local.get_access(sess)
def idp_cached():
    k = k2k_plugin(local, sp)
    k.get_access(session.Session(auth=k))
results['idp_cached'] = timed(idp_cached, cfg['iterations'])

# 3. the SP token is cached.
k = k2k_plugin(local, sp)
ks = session.Session(auth=k)
k.get_access(ks)
results['sp_cached'] = timed(lambda: k.get_token(ks), cfg['cached_iterations'])

# 4. catalogs of N service providers, concurrently (one thread per provider).
def catalogs(sps):
    def one(sp_id):
        kk = k2k_plugin(local, sp_id)
        return kk.get_access(session.Session(auth=kk)).service_catalog.catalog
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(sps)) as pool:
        cats = list(pool.map(one, sps))
    assert all(cats), 'every provider returned a catalog'
for n, sps in sorted(cfg['aggregate'].items(), key=lambda kv: int(kv[0])):
    results[f'aggregate_{n}'] = timed(lambda: catalogs(sps), cfg['aggregate_iterations'])

results['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
json.dump(results, sys.stdout)
