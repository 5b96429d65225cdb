"""Every user-visible string is translated into Russian and Uzbek, and the catalogs are current."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
METHODS = [("portal/**.py", "python"), ("tasks/**.py", "python"), ("templates/**.html", "jinja2")]


def _extracted() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS,
                                                options_map={"templates/**.html": {}}):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("locale", ["ru", "uz"])
def test_catalog_is_complete_and_current(locale):
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalog if m.id}
    missing = sorted(_extracted() - set(translated))
    assert not missing, f"not in the {locale} catalog (run `make translations-update`): {missing}"
    empty = sorted(msgid for msgid, text in translated.items()
                   if not (text if isinstance(text, str) else all(text)))
    assert not empty, f"untranslated in {locale}: {empty}"
    fuzzy = sorted(m.id for m in catalog if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy in {locale}: {fuzzy}"
