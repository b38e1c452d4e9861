"""What a user sees in Horizon's menus, for scripts/demo.

    HORIZON_PASSWORD=... python horizon_menus.py HORIZON_URL USER

Logs USER in to Horizon as a browser would (a session with cookies, the
login form's hidden fields with its CSRF token, redirects followed) and
prints two lines:

    regions: RegionOne, lisbon-b
    keystone providers: localkeystone, mercador-lisbon-b

the entries of the region menu (the "Regions:" list of the project/region
context selector; Horizon shows it only with two regions or more) and of
the keystone-provider menu (the token's service providers plus the home
Keystone; shown only when there is a service provider), as the links of
Horizon's own switch views name them. The password comes from the
environment (never the command line) and is never printed. Exit 1 with
Horizon's message when the login is refused.
"""

import html.parser
import os
import re
import sys
import urllib.parse

import requests


class Form(html.parser.HTMLParser):
    """The inputs (name, value) of the form posting to /auth/login/."""

    def __init__(self):
        super().__init__()
        self.inside = False
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("action") == "/auth/login/"
        elif tag == "input" and self.inside and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def links(page, view):
    """The ids in the links to Horizon's view /auth/VIEW/<id>/, in order."""
    seen = []
    for found in re.findall(r'href="/auth/%s/([^/"]+)/' % view, page):
        name = urllib.parse.unquote(found)
        if name not in seen:
            seen.append(name)
    return seen


def main():
    base, user = sys.argv[1].rstrip("/") + "/", sys.argv[2]
    password = os.environ["HORIZON_PASSWORD"]
    browser = requests.Session()
    login = urllib.parse.urljoin(base, "auth/login/")
    form_page = browser.get(login, timeout=120)
    form_page.raise_for_status()
    form = Form()
    form.feed(form_page.text)
    if not form.fields.get("csrfmiddlewaretoken"):
        sys.exit("no login form with a CSRF token at %s" % login)
    fields = dict(form.fields, username=user, password=password)
    landed = browser.post(login, data=fields, headers={"Referer": login}, timeout=120)
    if landed.status_code != 200 or urllib.parse.urlparse(landed.url).path == "/auth/login/":
        alerts = re.findall(r'class="[^"]*alert[^"]*"[^>]*>(.*?)</div>', landed.text, re.S)
        said = "; ".join(" ".join(re.sub(r"<[^>]+>", " ", a).split()) for a in alerts) or "no message"
        sys.exit("Horizon refused the login of %s (HTTP %d): %s" % (user, landed.status_code, said))
    print("regions: " + (", ".join(links(landed.text, "switch_services_region")) or "(no region menu)"))
    providers = links(landed.text, "switch_keystone_provider")
    print("keystone providers: " + (", ".join(providers) or "(no keystone-provider menu)"))


if __name__ == "__main__":
    main()
