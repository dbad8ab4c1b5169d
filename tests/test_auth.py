"""Sign-in, sessions, CSRF and the role matrix over every route."""
import re

import pytest
from werkzeug.security import check_password_hash

from seller import users, workflow
from seller.metrics import DEFINITIONS
from seller.auth import PUBLIC_ENDPOINTS
from seller.extensions import db
from seller.models import User

from conftest import PASSWORD, add_user, make_order, sign_in


def route_cases(app, order, ret):
    """Every (endpoint, method, url) of the app, filled in with real ids."""
    values = {"order_id": order.order_id, "return_id": ret.id, "user_id": 1, "item_id": 1, "filename": "app.css",
              "metric": next(iter(DEFINITIONS))}
    cases = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        url = adapter.build(rule.endpoint, {arg: values[arg] for arg in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            cases.append((rule.endpoint, method, url))
    return cases


@pytest.fixture
def world(app, owner, staff):
    order = make_order("Shipped")
    ret = workflow.create_return(order, owner, "No longer needed", {order.items[0].id: 1})
    return order, ret


def required_action(app, endpoint):
    return getattr(app.view_functions[endpoint], "required_action", None)


def test_every_route_declares_who_may_use_it(app, world):
    for endpoint, _, _ in route_cases(app, *world):
        assert endpoint in PUBLIC_ENDPOINTS or required_action(app, endpoint), endpoint


def test_anonymous_is_sent_to_sign_in_everywhere(app, world):
    client = app.test_client()
    for endpoint, method, url in route_cases(app, *world):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.open(url, method=method)
        assert response.status_code in (302, 303), (endpoint, method, response.status_code)
        assert "/login" in response.headers["Location"]
        htmx = client.open(url, method=method, headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and "/login" in htmx.headers["HX-Redirect"], endpoint


def test_staff_gets_403_from_every_owner_route(app, world, staff):
    client = sign_in(app.test_client(), staff)
    checked = 0
    for endpoint, method, url in route_cases(app, *world):
        action = required_action(app, endpoint)
        if endpoint in PUBLIC_ENDPOINTS or endpoint == "auth.logout":
            continue
        response = client.open(url, method=method)
        response.close()
        if workflow.permitted(staff, action):
            assert response.status_code != 403, (endpoint, method)
        else:
            assert response.status_code == 403, (endpoint, method, response.status_code)
            checked += 1
    assert checked >= 10


def test_owner_is_never_refused(app, world, owner):
    client = sign_in(app.test_client(), owner)
    for endpoint, method, url in route_cases(app, *world):
        if endpoint == "auth.logout":
            continue
        response = client.open(url, method=method)
        response.close()
        assert response.status_code not in (401, 403) and response.status_code < 500, (endpoint, method,
                                                                                      response.status_code)


def test_staff_sees_no_owner_controls(app, staff, owner):
    make_order("Unshipped")
    page = sign_in(app.test_client(), staff).get("/orders").get_data(as_text=True)
    assert "Settings" not in page
    assert workflow.available_actions(make_order("Unshipped"), staff) == [
        "print_packing_slip", "confirm_shipment", "buy_shipping", "contact_buyer"]
    assert "cancel_order" in workflow.available_actions(make_order("Unshipped"), owner)


def test_sign_in_and_out(client, app):
    add_user("person@example.com", "staff")
    page = client.get("/login")
    assert b'<label for="email">Email</label>' in page.data and b">Sign in<" in page.data
    wrong = client.post("/login", data={"email": "person@example.com", "password": "nope"})
    unknown = client.post("/login", data={"email": "nobody@example.com", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 422
    message = "The e-mail address or the password is not right."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    ok = client.post("/login", data={"email": "Person@Example.com", "password": PASSWORD})
    assert ok.status_code == 303 and ok.headers["Location"].endswith("/orders")
    assert client.get("/orders").status_code == 200
    out = client.post("/logout", follow_redirects=True)
    assert "You have signed out." in out.get_data(as_text=True)
    assert client.get("/orders").status_code == 302


@pytest.mark.parametrize("target, expected", [("/returns", "/returns"), ("https://evil.example/", "/orders"),
                                              ("//evil.example/", "/orders"), ("/\\evil.example", "/orders")])
def test_next_never_leaves_the_site(client, target, expected):
    add_user("person@example.com", "staff")
    response = client.post("/login?next=" + target, data={"email": "person@example.com", "password": PASSWORD})
    assert response.headers["Location"] == expected


def test_signing_out_ends_the_other_sessions(app):
    user = add_user("person@example.com", "staff")
    desk, tablet = sign_in(app.test_client(), user), sign_in(app.test_client(), user)
    assert tablet.get("/orders").status_code == 200
    desk.post("/logout")
    assert tablet.get("/orders").status_code == 302


def test_changing_the_password_ends_the_other_sessions(app):
    user = add_user("person@example.com", "staff")
    desk, tablet = sign_in(app.test_client(), user), sign_in(app.test_client(), user)
    bad = desk.post("/account/password", data={"current": "wrong", "new": "a new password!", "confirm": "a new password!"})
    assert bad.status_code == 422 and "That is not your current password." in bad.get_data(as_text=True)
    ok = desk.post("/account/password", data={"current": PASSWORD, "new": "a new password!",
                                             "confirm": "a new password!"})
    assert ok.status_code == 303
    assert desk.get("/orders").status_code == 200  # this device stays signed in
    assert tablet.get("/orders").status_code == 302
    db.session.expire_all()
    assert check_password_hash(db.session.get(User, user.id).password_hash, "a new password!")


def test_turned_off_account_is_signed_out(app, owner):
    user = add_user("person@example.com", "staff")
    tablet = sign_in(app.test_client(), user)
    response = sign_in(app.test_client(), owner).post(f"/settings/users/{user.id}/active")
    assert response.status_code == 303
    assert tablet.get("/orders").status_code == 302


def test_passwords_are_hashed_at_owasp_strength(app):
    user = users.create("new@example.com", "long enough password", "staff")
    assert user.password_hash.startswith("scrypt:131072:8:1$")


def test_session_cookie_flags(app_with):
    app = app_with(SESSION_COOKIE_SECURE=True)
    with app.app_context():
        add_user("person@example.com", "staff")
        response = app.test_client().post("/login", data={"email": "person@example.com", "password": PASSWORD})
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_sign_in_is_rate_limited(app_with):
    app = app_with(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="5 per minute")
    with app.app_context():
        client = app.test_client()
        codes = [client.post("/login", data={"email": "x@example.com", "password": "guess"}).status_code
                 for _ in range(7)]
        assert codes[:5] == [422] * 5 and codes[5:] == [429, 429]
        assert "Too many attempts" in client.post("/login", data={"email": "x@example.com"}).get_data(as_text=True)


class TestWithCsrf:
    @pytest.fixture
    def app(self, app_with):
        app = app_with(WTF_CSRF_ENABLED=True)
        with app.app_context():
            yield app

    def test_post_without_token_is_refused(self, app):
        user = add_user("person@example.com", "owner")
        client = sign_in(app.test_client(), user)
        response = client.post("/logout")
        assert response.status_code == 400
        assert "Reload the page" in response.get_data(as_text=True)
        htmx = client.post("/logout", headers={"HX-Request": "true"})
        assert htmx.status_code == 400 and htmx.headers["HX-Retarget"] == "#flash"

    def test_token_in_header_is_accepted(self, app):
        user = add_user("person@example.com", "owner")
        client = sign_in(app.test_client(), user)
        page = client.get("/orders").get_data(as_text=True)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        assert client.post("/logout", headers={"X-CSRFToken": token}).status_code == 303

    def test_sign_in_form_needs_its_token(self, app):
        add_user("person@example.com", "owner")
        client = app.test_client()
        assert client.post("/login", data={"email": "person@example.com", "password": PASSWORD}).status_code == 400
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(
            as_text=True)).group(1)
        response = client.post("/login", data={"email": "person@example.com", "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 303
