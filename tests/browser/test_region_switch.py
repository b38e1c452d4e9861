"""alice picks a vregion in the region menu of A's Horizon, in a real browser.

Against the testbed's real Horizons (A's and B's, with Mercador's plugin),
Keystones, Glance and both Mercador services (the ``story`` fixture): B's
admin onboards the partner in B's Horizon (the credential's secret shown
once) and creates and publishes the vregion there; A's admin registers the publisher, discovers its offers and subscribes with an
alias in the plugin's panels, and sees the binding; alice logs in to A
once; the region menu lists the alias; choosing it opens a K2K session on
the vregion (Mercador's view); the header shows the alias, her Images panel
lists B's image that the vregion lists; choosing A's region brings her home
in her project; after A's admin cancels the binding in the Bindings panel,
her next login's menu no longer lists it; B's admin sees the subscription
come and go in B's Subscriptions panel (one login: Horizon B's session
cookie has its own name), and after the cancel sees it ended. A screenshot of every step is kept (``shots``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 120  # generous: the machine is shared


def _shot(browser: WebDriver, shots: Path, name: str) -> None:
    browser.save_screenshot(str(shots / f"{name}.png"))


def _login(
    browser: WebDriver, tb: dict[str, str], shots: Path, name: str, who: str = "DEMO", side: str = "A"
) -> None:
    """Logs in to A's Horizon as alice (``DEMO``) or A's admin (``ADMIN``),
    or (``side="B"``) to B's Horizon as B's admin."""
    url = tb["HORIZON_URL"] if side == "A" else tb["HORIZON_B_URL"]
    # Sign out as the user menu does (a POST with the CSRF token), if someone is logged in to
    # this Horizon (B's admin stays logged in to B's while A's users come and go).
    if browser.current_url.startswith(url) and browser.find_elements(By.CSS_SELECTOR, "li.user-menu form[method=post]"):
        old = browser.find_element(By.TAG_NAME, "html")
        browser.execute_script("document.querySelector('li.user-menu form[method=post]').submit()")
        WebDriverWait(browser, WAIT).until(ec.staleness_of(old))
    browser.delete_all_cookies()
    browser.get(url + "auth/login/")
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "id_username")))
    for field, value in (("id_username", tb[f"KEYSTONE_{side}_{who}_USER"]), ("id_password", tb[f"KEYSTONE_{side}_{who}_PASSWORD"])):
        element = browser.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    _shot(browser, shots, f"{name}-login")
    browser.find_element(By.ID, "loginBtn").click()
    WebDriverWait(browser, WAIT).until(lambda b: "/auth/login" not in b.current_url)
    user = browser.find_element(By.CSS_SELECTOR, "li.user-menu .user-name").get_attribute("textContent").strip()
    assert user == tb[f"KEYSTONE_{side}_{who}_USER"], f"logged in as {user!r}"


def _header_region(browser: WebDriver) -> str:
    return browser.find_element(By.CSS_SELECTOR, ".context-overview .context-region").get_attribute("textContent").strip()


def _header_project(browser: WebDriver) -> str:
    return browser.find_element(By.CSS_SELECTOR, ".context-overview .context-project").get_attribute("textContent").strip()


def _menu_regions(browser: WebDriver) -> dict[str, str]:
    """The "Regions:" list of the header's context menu: name -> link."""
    links = browser.find_elements(By.CSS_SELECTOR, "ul.context-selection a[href*='/auth/switch_services_region/']")
    return {a.get_attribute("textContent").strip(): a.get_attribute("href") for a in links}


def _messages(browser: WebDriver) -> str:
    return " | ".join(e.get_attribute("textContent").strip() for e in browser.find_elements(By.CSS_SELECTOR, ".messages .alert"))


def _choose_region(browser: WebDriver, region: str) -> float:
    """Clicks ``region`` in the region menu as a user does (opens the
    context menu, clicks the entry); returns the seconds from the click to
    the next page loaded."""
    browser.find_element(By.CSS_SELECTOR, "li.dropdown > a.dropdown-toggle .context-overview").click()
    link = WebDriverWait(browser, WAIT).until(
        ec.element_to_be_clickable(
            (By.XPATH, f"//ul[contains(@class,'context-selection')]//a[.//span[normalize-space()='{region}']]")
        )
    )
    old = browser.find_element(By.TAG_NAME, "html")
    start = time.perf_counter()
    link.click()
    WebDriverWait(browser, WAIT).until(ec.staleness_of(old))
    WebDriverWait(browser, WAIT).until(lambda b: b.execute_script("return document.readyState") == "complete")
    return time.perf_counter() - start


def _open(browser: WebDriver, tb: dict[str, str], path: str, side: str = "A") -> None:
    browser.get((tb["HORIZON_URL"] if side == "A" else tb["HORIZON_B_URL"]) + path)
    WebDriverWait(browser, WAIT).until(lambda b: b.execute_script("return document.readyState") == "complete")


def _submit_form(browser: WebDriver, fields: dict[str, str]) -> None:
    for field, value in fields.items():
        element = browser.find_element(By.ID, f"id_{field}")
        element.clear()
        element.send_keys(value)  # a newline in a textarea is a new line
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "form .modal-footer [type=submit]").click()
    WebDriverWait(browser, WAIT).until(ec.staleness_of(old))


def _successes(browser: WebDriver) -> str:
    return " | ".join(e.get_attribute("textContent").strip() for e in browser.find_elements(By.CSS_SELECTOR, ".alert-success"))


def _row(browser: WebDriver, table: str, row_id: str):
    return browser.find_element(By.CSS_SELECTOR, f"table#{table} tr[data-object-id='{row_id}']")


def test_alice_works_in_the_vregion_from_the_region_menu(browser: WebDriver, story: dict[str, Any], shots: Path) -> None:
    tb = story["tb"]
    alias = story["alias"]
    home_region = tb["KEYSTONE_A_REGION"]

    # B's admin, in B's Horizon: onboards the partner (the credential's secret shown this once)...
    _login(browser, tb, shots, "b1-admin", who="ADMIN", side="B")
    _open(browser, tb, "admin/mercador_partners/onboard/", side="B")
    _submit_form(browser, {"name": story["partner"], "description": "browser test"})
    assert not browser.find_elements(By.CSS_SELECTOR, ".alert-danger"), _messages(browser)
    onboarded = {
        "application_credential_id": browser.find_element(By.ID, "mercador-credential-id").text.strip(),
        "application_credential_secret": browser.find_element(By.ID, "mercador-credential-secret").text.strip(),
    }
    assert onboarded["application_credential_id"] and len(onboarded["application_credential_secret"]) >= 16
    # The screenshot must not hold the secret: masked on the page first.
    browser.execute_script(
        "document.getElementById('mercador-credential-secret').textContent = '(shown here once; hidden in this screenshot)'"
    )
    _shot(browser, shots, "b2-admin-partner-onboarded")
    _open(browser, tb, "admin/mercador_partners/", side="B")
    assert "active" in _row(browser, "partners", story["partner"]).text
    assert onboarded["application_credential_secret"] not in browser.page_source  # never again
    _shot(browser, shots, "b3-admin-partners")
    # ... then creates the vregion in the form and publishes it (Publish now, ticked by default).
    _open(browser, tb, "admin/mercador_vregions/create/", side="B")
    _submit_form(
        browser,
        {
            "name": story["vregion"],
            "description": "browser test",
            "region": tb["KEYSTONE_B_REGION"],
            "service_types": "identity, image",
            "roles": "member, reader",
            "max_subscriptions": "1",
            "partners": story["partner"],
            "image_ids": story["image_id"],
            "metadata": "country=PT",
        },
    )
    assert not browser.find_elements(By.CSS_SELECTOR, ".alert-danger"), _messages(browser)
    assert f'Published vregion "{story["vregion"]}"' in _successes(browser), _messages(browser)
    row = _row(browser, "vregions", story["vregion"]).text
    assert "published" in row and story["partner"] in row, row
    _shot(browser, shots, "b4-admin-vregions")
    b_session = browser.get_cookie("sessionid_b")
    assert b_session, "Horizon B's session cookie (sessionid_b) is missing"

    # A's admin registers the publisher, discovers its offers and subscribes with an alias.
    _login(browser, tb, shots, "a1-admin", who="ADMIN")
    _open(browser, tb, "admin/mercador_publishers/register/")
    _submit_form(
        browser,
        {
            "name": story["publisher"],
            "keystone_url": tb["KEYSTONE_B_URL"],
            "application_credential_id": onboarded["application_credential_id"],
            "application_credential_secret": onboarded["application_credential_secret"],
            "exchange_url": story["exchange_url"],
        },
    )
    assert not browser.find_elements(By.CSS_SELECTOR, ".alert-danger"), _messages(browser)
    _row(browser, "publishers", story["publisher"])
    assert onboarded["application_credential_secret"] not in browser.page_source
    _shot(browser, shots, "a2-admin-publishers")
    _open(browser, tb, "admin/mercador_publishers/discover/")
    offer = _row(browser, "offers", f"{story['publisher']}/{story['vregion']}")
    _shot(browser, shots, "a3-admin-discover")
    old = browser.find_element(By.TAG_NAME, "html")
    offer.find_element(By.XPATH, ".//a[normalize-space()='Subscribe']").click()
    WebDriverWait(browser, WAIT).until(ec.staleness_of(old))
    _submit_form(browser, {"alias": alias})
    assert not browser.find_elements(By.CSS_SELECTOR, ".alert-danger"), _messages(browser)
    assert "/admin/mercador_bindings/" in browser.current_url, browser.current_url
    assert "active" in _row(browser, "bindings", alias).text, _row(browser, "bindings", alias).text
    _shot(browser, shots, "a4-admin-bindings")
    _open(browser, tb, f"admin/mercador_bindings/{alias}/")
    detail = browser.find_element(By.CSS_SELECTOR, "dl.mercador-detail").text
    assert f"mercador-{alias}" in detail and story["vregion"] in detail, detail
    _shot(browser, shots, "a5-admin-binding-detail")

    # B's admin (still logged in to B's Horizon) sees the partner's subscription.
    _open(browser, tb, "auth/login/", side="B")  # a page of B's Horizon to set its cookie on
    browser.add_cookie({k: b_session[k] for k in ("name", "value", "path") if k in b_session})
    _open(browser, tb, "admin/mercador_subscriptions/", side="B")
    rows = [
        r.text
        for r in browser.find_elements(By.CSS_SELECTOR, "table#subscriptions tbody tr[data-object-id]")
        if story["partner"] in r.text and story["vregion"] in r.text
    ]
    assert len(rows) == 1 and "active" in rows[0], f"subscriptions at B: {rows}; {_messages(browser)}"
    _shot(browser, shots, "b5-admin-subscriptions")

    # alice logs in to A: the binding's alias is one more region of her menu.
    _login(browser, tb, shots, "01-alice")
    regions = _menu_regions(browser)
    assert alias in regions and home_region in regions, f"region menu: {sorted(regions)}"
    assert _header_region(browser) == home_region
    assert _header_project(browser) == tb["KEYSTONE_A_DEMO_PROJECT"]
    _shot(browser, shots, "02-alice-home")

    # She picks the vregion: Mercador's switch opens a K2K session there.
    _choose_region(browser, alias)
    assert not browser.find_elements(By.CSS_SELECTOR, ".alert-danger"), _messages(browser)
    assert _header_region(browser) == alias, f"header shows {_header_region(browser)!r}; messages: {_messages(browser)}"
    # Her project there is the vregion's one named like hers at A.
    assert _header_project(browser) == tb["KEYSTONE_A_DEMO_PROJECT"]
    # The menu still lists A's region (to go back) and the alias, checked.
    regions = _menu_regions(browser)
    assert home_region in regions and alias in regions, f"region menu in the vregion: {sorted(regions)}"

    # Her Images panel lists B's image, the one the vregion lists.
    browser.get(tb["HORIZON_URL"] + "project/images/")
    WebDriverWait(browser, WAIT).until(
        ec.presence_of_element_located((By.XPATH, f"//*[normalize-space()='{story['image']}']"))
    )
    assert _header_region(browser) == alias
    _shot(browser, shots, "03-alice-in-the-vregion-images")

    # She picks A's region: home again, in her project.
    _choose_region(browser, home_region)
    assert not browser.find_elements(By.CSS_SELECTOR, ".alert-danger"), _messages(browser)
    assert _header_region(browser) == home_region
    assert _header_project(browser) == tb["KEYSTONE_A_DEMO_PROJECT"]
    # A has no image service: she lands on her home page, not on a 403.
    assert "/project/images" not in browser.current_url
    assert "not authorized" not in browser.find_element(By.TAG_NAME, "body").text
    _shot(browser, shots, "04-alice-home-again")

    # A's admin cancels the binding in the Bindings panel.
    _login(browser, tb, shots, "a6-admin", who="ADMIN")
    _open(browser, tb, "admin/mercador_bindings/")
    # Horizon styles its checkboxes (the input itself is hidden): click it by script.
    checkbox = _row(browser, "bindings", alias).find_element(By.CSS_SELECTOR, "input[type=checkbox]")
    browser.execute_script("arguments[0].click()", checkbox)
    browser.find_element(By.ID, "bindings__action_cancel").click()
    confirm = WebDriverWait(browser, WAIT).until(
        ec.element_to_be_clickable((By.XPATH, "//div[contains(@class,'modal-footer')]//*[starts-with(normalize-space(),'Cancel Binding')]"))
    )
    old = browser.find_element(By.TAG_NAME, "html")
    confirm.click()
    WebDriverWait(browser, WAIT).until(ec.staleness_of(old))
    assert not browser.find_elements(By.CSS_SELECTOR, ".alert-danger"), _messages(browser)
    assert "Cancelled Binding" in _successes(browser), _messages(browser)
    rows = browser.find_elements(By.CSS_SELECTOR, f"table#bindings tr[data-object-id='{alias}']")
    assert not rows or "cancelled" in rows[0].text, rows[0].text
    _shot(browser, shots, "a7-admin-cancelled")

    # alice's next login's menu no longer lists it.
    _login(browser, tb, shots, "05-alice-after-cancel")
    try:
        regions = _menu_regions(browser)
    except NoSuchElementException:
        regions = {}
    assert alias not in regions, f"region menu after the cancel: {sorted(regions)}"
    _shot(browser, shots, "06-alice-after-cancel")

    # B's admin sees the subscription ended.
    _open(browser, tb, "auth/login/", side="B")
    browser.add_cookie({k: b_session[k] for k in ("name", "value", "path") if k in b_session})
    _open(browser, tb, "admin/mercador_subscriptions/", side="B")
    rows = [
        r.text
        for r in browser.find_elements(By.CSS_SELECTOR, "table#subscriptions tbody tr[data-object-id]")
        if story["partner"] in r.text and story["vregion"] in r.text
    ]
    assert len(rows) == 1 and "cancel" in rows[0], f"subscriptions at B after the cancel: {rows}; {_messages(browser)}"
    _shot(browser, shots, "b6-admin-subscription-cancelled")
