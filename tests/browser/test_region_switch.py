"""alice picks a vregion in the region menu of A's Horizon, in a real browser.

Against the testbed's real Horizon (with Mercador's plugin), Keystones,
Glance and both Mercador services (the ``story`` fixture): alice logs in to
A once; the region menu lists the alias; choosing it opens a K2K session on
the vregion (Mercador's view); the header shows the alias, her Images panel
lists B's image that the vregion lists; choosing A's region brings her home
in her project; after A's admin cancels the binding, her next login's menu
no longer lists it. A screenshot of every step is kept (``shots``).
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


def _login(browser: WebDriver, tb: dict[str, str], shots: Path, name: str) -> None:
    browser.delete_all_cookies()
    browser.get(tb["HORIZON_URL"] + "auth/login/")
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "id_username")))
    browser.find_element(By.ID, "id_username").send_keys(tb["KEYSTONE_A_DEMO_USER"])
    browser.find_element(By.ID, "id_password").send_keys(tb["KEYSTONE_A_DEMO_PASSWORD"])
    _shot(browser, shots, f"{name}-login")
    browser.find_element(By.ID, "loginBtn").click()
    WebDriverWait(browser, WAIT).until(lambda b: "/auth/login" not in b.current_url)


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


def test_alice_works_in_the_vregion_from_the_region_menu(browser: WebDriver, story: dict[str, Any], shots: Path) -> None:
    tb = story["tb"]
    alias = story["alias"]
    home_region = tb["KEYSTONE_A_REGION"]

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

    # A's admin cancels the binding: her next login's menu no longer lists it.
    story["sub"].cancel_binding(alias)
    story["done"].remove("binding")
    _login(browser, tb, shots, "05-alice-after-cancel")
    try:
        regions = _menu_regions(browser)
    except NoSuchElementException:
        regions = {}
    assert alias not in regions, f"region menu after the cancel: {sorted(regions)}"
    _shot(browser, shots, "06-alice-after-cancel")
