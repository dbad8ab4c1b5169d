"""Sign in, reach Manage Orders and sign out in Chromium, at desktop and tablet size."""
import pytest
from playwright.sync_api import expect

from conftest import browser_sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", [(1366, 900), (1024, 768)], ids=["desktop", "tablet"])
def test_sign_in_and_out(browser, live_server, browser_user, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, has_touch=size[0] < 1200)
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    # a request the browser itself abandons on navigation (ERR_ABORTED) is not a failure
    page.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "") and problems.append(r.url))
    email, password = browser_user
    page.goto(live_server.url + "/orders")
    assert "/login" in page.url
    browser_sign_in(page, live_server.url, email, password)
    assert page.get_by_role("heading", name="Manage Orders").is_visible()
    assert page.get_by_role("link", name="Manage Returns").is_visible()
    assert page.evaluate("typeof htmx") == "object"  # served from our own static folder
    sign_out = page.get_by_role("button", name="Sign out")
    assert sign_out.bounding_box()["height"] >= 44
    sign_out.click()
    page.wait_for_url("**/login")
    assert page.get_by_text("You have signed out.").is_visible()
    page.goto(live_server.url + "/orders")
    assert "/login" in page.url
    assert problems == []
    context.close()


def test_wrong_password_is_said_next_to_the_field(page, live_server, browser_user):
    email, _ = browser_user
    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not it")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("The e-mail address or the password is not right.")).to_be_visible()
