"""Settings (owner): the store's settings and the people who can sign in."""
from seller.extensions import db
from seller.models import Settings, User

GOOD = {"store_name": "Lotus Home", "seller_name": "Lotus Home LLC", "timezone": "America/New_York",
        "handling_hours": "24", "handling_business_days": "y", "return_address": "1 Return Rd\nReno, NV",
        "return_concession_factor": "3", "return_concession_extra": "7.50", "other_concession_percent": "50",
        "slip_size": "4x6", "ship_from_country": "us", "demo_rates": ""}


def test_owner_saves_settings(owner_client):
    page = owner_client.get("/settings").get_data(as_text=True)
    assert 'value="My Store"' in page and 'value="10.00"' in page
    response = owner_client.post("/settings", data=GOOD, follow_redirects=True)
    assert "Settings saved." in response.get_data(as_text=True)
    db.session.expire_all()
    row = Settings.current()
    assert (row.store_name, row.timezone, row.handling_hours, row.handling_business_days) == (
        "Lotus Home", "America/New_York", 24, True)
    assert (row.return_concession_factor, row.return_concession_extra_cents, row.slip_size) == (3, 750, "4x6")
    assert row.ship_from_country == "US"
    assert "Lotus Home" in owner_client.get("/orders").get_data(as_text=True)


def test_bad_settings_change_nothing(owner_client):
    bad = dict(GOOD, handling_hours="0", return_concession_extra="1e3", store_name="")
    response = owner_client.post("/settings", data=bad)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Between 1 and 720 hours." in text and "Enter the store&#39;s name." in text
    assert "Enter an amount in dollars and cents, like 12.50." in text
    db.session.expire_all()
    assert Settings.current().handling_hours == 48


def test_staff_cannot_open_settings(staff_client):
    assert staff_client.get("/settings").status_code == 403
    assert staff_client.post("/settings", data=GOOD).status_code == 403
    assert staff_client.post("/settings/users", data={"user-email": "x@example.com"}).status_code == 403


def test_owner_adds_a_person(owner_client):
    response = owner_client.post("/settings/users", data={"user-email": "packer@example.com", "user-role": "staff",
                                                          "user-password": "long enough pw"})
    assert response.status_code == 303
    user = db.session.query(User).filter_by(email="packer@example.com").one()
    assert user.role == "staff" and user.password_hash.startswith("scrypt:131072:8:1$")
    again = owner_client.post("/settings/users", data={"user-email": "packer@example.com", "user-role": "staff",
                                                       "user-password": "long enough pw"})
    assert again.status_code == 422 and "already has an account" in again.get_data(as_text=True)


def test_owner_cannot_turn_off_themself(owner_client, owner):
    response = owner_client.post(f"/settings/users/{owner.id}/active", follow_redirects=True)
    assert "You cannot turn off your own access." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, owner.id).active
