"""Shop boundaries, consent for instructors, and role pages."""

import pytest
from sqlmodel import select

from mentoring.access import policy
from mentoring.access.policy import Actor, load_actor
from mentoring.people.models import Membership

from .conftest import count_rows


def shop_urls(w):
    """Every page and object of the world's first shop, as (method, url, form)."""
    shop, triad, enrollment, membership_person = w.shop.id, w.triad.id, w.consented.id, w.mentor.id
    return [
        ("GET", f"/admin/orgs/{shop}", None),
        ("GET", f"/admin/orgs/{shop}/edit", None),
        ("POST", f"/admin/orgs/{shop}/edit", {"name": "Taken over", "kind": "dealership", "timezone": "UTC"}),
        ("GET", f"/admin/orgs/{shop}/members/new", None),
        ("POST", f"/admin/orgs/{shop}/members/new", {"full_name": "X", "email": "x@example.com", "role": "mentee"}),
        ("GET", f"/admin/people/{membership_person}", None),
        ("POST", f"/admin/people/{membership_person}", {"full_name": "X", "email": "x@example.com"}),
        ("POST", f"/admin/people/{membership_person}/credentials", {"password": "another-long-one"}),
        ("GET", f"/admin/orgs/{shop}/triads/new", None),
        ("POST", f"/admin/orgs/{shop}/triads/new", {"mentee_id": w.mentee.id, "mentor_id": w.mentor.id,
                                                    "manager_id": w.manager.id}),
        ("GET", f"/admin/triads/{triad}", None),
        ("POST", f"/admin/triads/{triad}/mentor", {"mentor_id": w.mentor2.id, "reason": "x"}),
        ("POST", f"/admin/triads/{triad}/manager", {"manager_id": w.manager.id}),
        ("POST", f"/admin/triads/{triad}/end", {}),
        ("GET", f"/admin/orgs/{shop}/enrollments/new", None),
        ("POST", f"/admin/enrollments/{enrollment}/consent", {}),
        ("POST", f"/admin/enrollments/{enrollment}/end", {}),
        ("GET", f"/mentees/{w.mentee.id}", None),
        ("GET", f"/mentees/{w.mentee2.id}", None),
    ]


def _membership_id(database, w):
    with database.session() as db:
        return db.exec(select(Membership.id).where(Membership.person_id == w.mentee.id)).first()


@pytest.mark.parametrize("outsider", ["other_manager", "other_mentor", "other_mentee"])
def test_people_of_another_shop_get_404_on_everything_of_this_shop(browser, world, clean_db, outsider):
    browser.login(getattr(world, outsider).email)
    before = count_rows(clean_db)
    urls = shop_urls(world) + [("POST", f"/admin/memberships/{_membership_id(clean_db, world)}/delete", {})]
    for method, url, form in urls:
        response = browser.get(url) if method == "GET" else browser.post(url, form)
        assert response.status_code == 404, (outsider, method, url, response.status_code)
    assert count_rows(clean_db) == before  # and nothing was written


def test_the_other_shops_admin_sees_only_their_own_shop_in_lists(browser, world):
    browser.login(world.other_manager.email)
    admin = browser.get("/admin").text
    assert "Hillcrest Auto" in admin and "Riverside Toyota" not in admin
    mentees = browser.get("/api/mentees").json()
    assert [m["full_name"] for m in mentees] == ["Olga Mentee"]


def test_an_instructor_sees_only_students_with_consent(browser, world):
    browser.login(world.instructor.email)
    home = browser.get("/instructor").text
    assert "Tess Mentee" in home and "Uma Mentee" not in home
    assert browser.get(f"/mentees/{world.mentee.id}").status_code == 200
    assert browser.get(f"/mentees/{world.mentee2.id}").status_code == 404
    assert browser.get(f"/mentees/{world.other_mentee.id}").status_code == 404
    assert [m["full_name"] for m in browser.get("/api/mentees").json()] == ["Tess Mentee"]


def test_revoking_consent_ends_instructor_access_at_once(browser, other_browser, world):
    browser.login(world.instructor.email)
    assert browser.get(f"/mentees/{world.mentee.id}").status_code == 200
    other_browser.login(world.manager.email)
    assert other_browser.post(f"/admin/enrollments/{world.consented.id}/consent", {}).status_code == 303
    assert browser.get(f"/mentees/{world.mentee.id}").status_code == 404
    assert "Tess Mentee" not in browser.get("/instructor").text


def test_an_instructor_removed_from_the_school_loses_access(db, world):
    membership = db.exec(select(Membership).where(Membership.person_id == world.instructor.id)).one()
    db.delete(membership)
    db.commit()
    actor = Actor(world.instructor.id, "Ivy", memberships=frozenset())
    assert not policy.can_view_mentee(db, actor, world.mentee.id)


def test_a_mentor_sees_the_mentees_of_their_own_shop_only(browser, world, db):
    browser.login(world.mentor.email)
    assert browser.get(f"/mentees/{world.mentee.id}").status_code == 200
    assert browser.get(f"/mentees/{world.mentee2.id}").status_code == 200  # Nina's mentee, same shop
    assert browser.get(f"/mentees/{world.other_mentee.id}").status_code == 404
    assert "Uma Mentee" not in browser.get("/mentor").text  # the home page lists their own triads


def test_a_mentee_sees_only_themself(browser, world):
    browser.login(world.mentee.email)
    assert browser.get(f"/mentees/{world.mentee.id}").status_code == 200
    assert browser.get(f"/mentees/{world.mentee2.id}").status_code == 404
    assert browser.get("/admin").status_code == 403
    assert browser.get(f"/admin/orgs/{world.shop.id}").status_code == 404


@pytest.mark.parametrize("persona, page", [
    ("mentee", "/manager"), ("mentor", "/manager"), ("instructor", "/mentor"), ("manager", "/instructor"),
    ("mentor", "/admin/orgs/new"), ("admin", "/admin/orgs/new"),
])
def test_role_pages_refuse_other_roles(browser, world, persona, page):
    browser.login(getattr(world, persona).email)
    assert browser.get(page).status_code == 403


def test_managers_manage_triads_but_not_people(browser, world):
    browser.login(world.manager.email)
    assert browser.get(f"/admin/orgs/{world.shop.id}").status_code == 200
    assert browser.get(f"/admin/triads/{world.triad.id}").status_code == 200
    assert browser.get(f"/admin/orgs/{world.shop.id}/members/new").status_code == 404
    assert browser.get(f"/admin/people/{world.mentee.id}").status_code == 404


def test_pay_plan_is_for_the_shops_managers_and_admins_only(db, world):
    def can(person):
        return policy.can_see_pay_plan(load_actor(db, person), world.shop.id)
    assert can(world.manager) and can(world.admin)
    assert not any(can(p) for p in (world.mentor, world.mentee, world.instructor, world.other_manager))
    superuser = Actor(None, "operator", is_superuser=True)
    assert not policy.can_see_pay_plan(superuser, world.shop.id)


def test_enrollment_details_are_hidden_from_mentors(browser, world):
    browser.login(world.mentor.email)
    assert "Lakeview" not in browser.get(f"/mentees/{world.mentee.id}").text


def test_the_one_mentee_check_agrees_with_the_visible_list_for_everyone(db, world):
    # can_view_mentee answers for one mentee with short lookups; visible_mentee_ids is the rule itself.
    people = [world.admin, world.manager, world.mentor, world.mentor2, world.mentee, world.mentee2,
              world.other_manager, world.other_mentor, world.other_mentee, world.instructor]
    for person in people:
        actor = load_actor(db, person)
        visible = {row[0] for row in db.exec(policy.visible_mentee_ids(actor))}
        for mentee in people:
            assert policy.can_view_mentee(db, actor, mentee.id) is (mentee.id in visible), (person.full_name,
                                                                                            mentee.full_name)
    assert visible == {world.mentee.id}  # the instructor: the consented student only
