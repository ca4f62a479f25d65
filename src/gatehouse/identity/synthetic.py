"""Deterministic synthetic organisations: people, hierarchy, groups and overlapping sources.

A seed fixes everything. Name pools come from Faker once; the rest is a seeded random walk,
so 100,000 people take seconds. Three sources describe overlapping people the way real ones
do: HR knows everyone by employee number, the IdP knows most by login and e-mail, LDAP
knows engineers by uid, and they disagree on a few attributes (for correlation to settle).
"""

# ruff: noqa: S311  (seeded, reproducible data; nothing here is a secret)
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from faker import Faker

DEPARTMENTS = (
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "People",
    "Legal",
    "Support",
    "Security",
    "Operations",
    "Product",
)
LEVELS = ("Associate", "Senior", "Staff", "Principal")
LOCATIONS = ("London", "Berlin", "New York", "Singapore", "Toronto", "Sydney")


@dataclass
class Person:
    """One synthetic employee, as the organisation knows them."""

    employee_number: str
    user_name: str
    given_name: str
    family_name: str
    email: str
    department: str
    title: str
    cost_center: str
    location: str
    manager: str | None
    active: bool


@dataclass
class SyntheticGroup:
    """A group, its parent group (for nesting) and its direct members' employee numbers."""

    name: str
    parent: str | None
    members: list[str] = field(default_factory=list)


@dataclass
class SyntheticOrg:
    """Everything generated for one seed."""

    seed: int
    people: list[Person]
    groups: list[SyntheticGroup]

    def source_records(self, source: str) -> list[dict[str, Any]]:
        """What one source system says about the people it knows."""
        rng = random.Random(f"{self.seed}:{source}")
        records = []
        for person in self.people:
            if source == "hr":
                records.append(_hr(person))
            elif source == "okta" and rng.random() < 0.9:
                records.append(_okta(person, rng))
            elif source == "ldap" and person.department in ("Engineering", "Security"):
                records.append(_ldap(person))
        return records


def _hr(p: Person) -> dict[str, Any]:
    return {
        "employee_number": p.employee_number,
        "given_name": p.given_name,
        "family_name": p.family_name,
        "department": p.department,
        "title": p.title,
        "cost_center": p.cost_center,
        "location": p.location,
        "manager": p.manager,
        "active": p.active,
    }


def _okta(p: Person, rng: random.Random) -> dict[str, Any]:
    # The IdP's department is sometimes stale: HR is the authority for it.
    department = p.department if rng.random() > 0.05 else rng.choice(DEPARTMENTS)
    return {
        "id": f"00u{p.employee_number}",
        "login": p.user_name,
        "email": p.email,
        "given_name": p.given_name,
        "family_name": p.family_name,
        "department": department,
        "status": "ACTIVE" if p.active else "SUSPENDED",
    }


def _ldap(p: Person) -> dict[str, Any]:
    uid = p.user_name.split("@", 1)[0]
    return {
        "dn": f"uid={uid},ou=people,dc=example,dc=com",
        "uid": uid,
        "mail": p.email,
        "cn": f"{p.given_name} {p.family_name}",
        "employeeNumber": p.employee_number,
    }


def generate(users: int, groups: int, seed: int = 1) -> SyntheticOrg:
    """An organisation of `users` people and `groups` groups, the same for the same seed."""
    rng = random.Random(seed)
    faker = Faker("en_US")
    faker.seed_instance(seed)
    given = sorted({faker.first_name() for _ in range(400)})
    family = sorted({faker.last_name() for _ in range(600)})
    people: list[Person] = []
    taken: set[str] = set()
    for index in range(users):
        first, last = rng.choice(given), rng.choice(family)
        base = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        login = base if base not in taken else f"{base}{index}"
        taken.add(login)
        department = (
            DEPARTMENTS[index % len(DEPARTMENTS)] if index < 10 else rng.choice(DEPARTMENTS)
        )
        # Managers come earlier in the list, so the hierarchy is a tree rooted at person 0.
        manager = (
            people[rng.randrange(0, max(1, index // 8 + 1))].employee_number if index else None
        )
        people.append(
            Person(
                employee_number=f"E{index + 1:07d}",
                user_name=f"{login}@example.com",
                given_name=first,
                family_name=last,
                email=f"{login}@example.com",
                department=department,
                title=f"{rng.choice(LEVELS)} {department} {_role(index)}",
                cost_center=f"CC-{DEPARTMENTS.index(department) + 1:02d}{rng.randrange(10)}",
                location=rng.choice(LOCATIONS),
                manager=manager,
                active=rng.random() > 0.03,
            )
        )
    return SyntheticOrg(seed, people, _groups(rng, people, groups))


def _role(index: int) -> str:
    return "Manager" if index % 8 == 0 else "Specialist"


def _groups(rng: random.Random, people: list[Person], count: int) -> list[SyntheticGroup]:
    made: list[SyntheticGroup] = []
    by_department: dict[str, list[str]] = {}
    for person in people:
        by_department.setdefault(person.department, []).append(person.employee_number)
    for department in DEPARTMENTS[: min(count, len(DEPARTMENTS))]:
        made.append(SyntheticGroup(department, None, by_department.get(department, [])))
    for index in range(len(made), count):
        parent = made[rng.randrange(len(made))]
        team = SyntheticGroup(f"{parent.name} Team {index}", parent.name)
        pool = by_department.get(parent.name.split(" Team ")[0], [])
        if pool:
            team.members = rng.sample(pool, k=min(len(pool), rng.randint(3, 25)))
        made.append(team)
    return made
