from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, ValidationError

from portal.services.inputs import timezone_error


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class PreferencesForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[SelectChoice("en", "English"), SelectChoice("ru", "Русский"),
                                                            SelectChoice("uz", "Oʻzbekcha")])
    timezone = SelectField(_l("Time zone"), validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(zone) for zone in sorted(available_timezones())]

    def validate_timezone(self, field):
        if (message := timezone_error(field.data)) is not None:
            raise ValidationError(str(message))
