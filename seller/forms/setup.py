from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, ValidationError


class SetupForm(FlaskForm):
    """Create the owner account (contract §15); "Fill with demo data" needs only the code."""
    setup_code = StringField(_l("Setup code"), validators=[DataRequired(message=_l("Enter the setup code."))],
                             render_kw={"autocomplete": "off", "autofocus": True, "spellcheck": "false"})
    email = EmailField(_l("Email"), render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), render_kw={"autocomplete": "new-password"})
    create = SubmitField(_l("Create account"))
    demo = SubmitField(_l("Fill with demo data"))

    def validate_email(self, field):
        if self.create.data and not (field.data or "").strip():
            raise ValidationError(_l("Enter your e-mail address."))

    def validate_password(self, field):
        if self.create.data and len(field.data or "") < 10:
            raise ValidationError(_l("Use a password of at least 10 characters."))


