"""``flask create-user`` and ``flask create-school``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from schoolhealth.extensions import db
from schoolhealth.models import AuditEvent, District, School, User

STRONG = "long enough password"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def get_user(username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def commits(monkeypatch):
    """Counts the commits a command makes: each must make exactly one, or none on error."""
    calls = []
    real = db.session.commit

    def counting_commit():
        calls.append(1)
        real()

    monkeypatch.setattr(db.session, "commit", counting_commit)
    return calls


# --- create-user -----------------------------------------------------------------------


def test_create_nurse_with_password_option(runner, factories, commits):
    factories.SchoolFactory(code="S01", name="No. 1")
    commits.clear()  # the factories' own commits
    result = runner.invoke(
        args=["create-user", "wang", "--role", "nurse", "--school", "s01",
              "--display-name", "王丽", "--password", STRONG],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created user wang (nurse) at school S01 No. 1." in result.output
    user = get_user("wang")
    assert (user.display_name, user.school.code) == ("王丽", "S01")
    assert user.check_password(STRONG)
    assert commits == [1]
    event = db.session.scalar(select(AuditEvent))
    assert (event.action, event.entity, event.user_id) == ("create", "user", None)


def test_password_is_prompted_twice_and_not_echoed(runner):
    result = runner.invoke(
        args=["create-user", "root", "--role", "admin"], input=f"{STRONG}\n{STRONG}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    assert "Repeat the password:" in result.output
    assert STRONG not in result.output
    assert get_user("root").check_password(STRONG)


def test_prompt_asks_again_when_the_two_passwords_differ(runner):
    result = runner.invoke(
        args=["create-user", "root", "--role", "admin"],
        input=f"{STRONG}\nsomething else\n{STRONG}\n{STRONG}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert get_user("root").check_password(STRONG)


@pytest.mark.parametrize(("password", "message"), [
    ("short", "at least 10 characters"),
    ("admin.user", "must not be the username"),
    ("password123", "too common or too easy to guess"),
    ("admin.user.2026", "too common or too easy to guess"),
])  # fmt: skip
def test_weak_password_is_refused(runner, commits, password, message):
    result = runner.invoke(
        args=["create-user", "admin.user", "--role", "admin", "--password", password]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert count(User) == 0
    assert commits == []


def test_weak_prompted_password_is_refused(runner):
    result = runner.invoke(args=["create-user", "root", "--role", "admin"], input="short\nshort\n")
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
    assert count(User) == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "nurse", "--school", "NOPE"], "No school has the code 'NOPE'."),
    (["--role", "nurse"], "A nurse needs a school."),
    (["--role", "institution", "--institution", "Nowhere"], "No institution is named 'Nowhere'."),
    (["--role", "official", "--district", "Atlantis"], "No district is named 'Atlantis'."),
    (["--role", "official"], "An official needs a district."),
])  # fmt: skip
def test_unknown_or_missing_scope_is_a_clear_error(runner, args, message):
    result = runner.invoke(args=["create-user", "someone", *args, "--password", STRONG])
    assert result.exit_code == 1
    assert message in result.output
    assert count(User) == 0


def test_scope_option_of_another_role_is_a_usage_error(runner, factories):
    factories.DistrictFactory(name="Haidian")
    result = runner.invoke(
        args=["create-user", "x.y", "--role", "nurse", "--district", "Haidian",
              "--password", STRONG],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--district does not apply to the role nurse (it takes --school)" in result.output


def test_institution_and_official_accounts(runner, factories):
    factories.InstitutionFactory(name="Eye Clinic", code="EC")
    factories.DistrictFactory(name="Haidian", code="110108")
    result = runner.invoke(
        args=["create-user", "clinic", "--role", "institution", "--institution", "ec",
              "--password", STRONG],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "of institution Eye Clinic" in result.output
    result = runner.invoke(
        args=["create-user", "official", "--role", "official", "--district", "110108",
              "--password", STRONG, "--language", "en"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert get_user("official").district.name == "Haidian"
    assert get_user("official").locale == "en"


def test_taken_username_is_refused_whatever_the_case(runner, factories):
    factories.AdminFactory(username="root")
    result = runner.invoke(args=["create-user", "ROOT", "--role", "admin", "--password", STRONG])
    assert result.exit_code == 1
    assert "The username 'ROOT' is taken." in result.output
    assert count(User) == 1


def test_role_is_required_and_checked(runner):
    assert runner.invoke(args=["create-user", "x.y.z", "--password", STRONG]).exit_code == 2
    result = runner.invoke(args=["create-user", "x.y.z", "--role", "boss", "--password", STRONG])
    assert result.exit_code == 2


# --- create-school ---------------------------------------------------------------------


def test_create_school_creates_the_missing_district(runner, commits):
    result = runner.invoke(args=["create-school", "1101080001", "海淀一小", "--district", "海淀区"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Created district 海淀区.",
        "Created school 1101080001 海淀一小 in district 海淀区.",
    ]
    assert commits == [1]
    assert count(District) == 1
    assert count(School) == 1
    actions = db.session.scalars(select(AuditEvent.entity).order_by(AuditEvent.id)).all()
    assert actions == ["district", "school"]


def test_create_school_in_an_existing_district(runner, factories):
    factories.DistrictFactory(name="Haidian")
    result = runner.invoke(args=["create-school", "S01", "No. 1", "--district", "HAIDIAN"])
    assert result.exit_code == 0, result.output
    assert result.output == "Created school S01 No. 1 in district Haidian.\n"
    assert count(District) == 1


def test_existing_school_is_renamed(runner, factories):
    factories.SchoolFactory(code="S01", name="Old")
    result = runner.invoke(args=["create-school", "S01", "New"])
    assert result.exit_code == 0, result.output
    assert result.output == "Updated school S01: name 'Old' -> 'New'.\n"
    db.session.expire_all()
    assert db.session.scalar(select(School.name)) == "New"


def test_existing_school_moves_district(runner, factories):
    factories.SchoolFactory(code="S01", name="Same")
    factories.DistrictFactory(name="Chaoyang")
    result = runner.invoke(args=["create-school", "S01", "Same", "--district", "Chaoyang"])
    assert result.exit_code == 0, result.output
    assert result.output == "Moved school S01 to district Chaoyang.\n"


def test_unchanged_school_says_so(runner, factories):
    school = factories.SchoolFactory(code="S01", name="Same")
    result = runner.invoke(
        args=["create-school", "S01", "Same", "--district", school.district.name]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "School S01 Same is already up to date.\n"
    assert db.session.scalar(select(func.count(AuditEvent.id))) == 0


def test_new_school_without_district_is_an_error(runner, commits):
    result = runner.invoke(args=["create-school", "S01", "Nowhere"])
    assert result.exit_code == 1
    assert "Choose the district of the school." in result.output
    assert count(School) == 0
    assert commits == []


def test_bad_code_changes_nothing(runner):
    result = runner.invoke(args=["create-school", "S 01", "Bad", "--district", "New district"])
    assert result.exit_code == 1
    assert "A code has 1–32 letters" in result.output
    assert count(District) == 0
