"""A mapping that does not compile: one MappingError listing every problem with its JSON path."""

from __future__ import annotations

from typing import Any

import pytest

from gatehouse.connectors.transform import MappingError, compile_mapping
from gatehouse.connectors.transform.paths import parse_path

OK_IDENTITY: dict[str, Any] = {
    "kind": "identity",
    "external_id": "id",
    "fields": {"user_name": "login"},
}


def problems(spec: dict[str, Any]) -> dict[str, str]:
    """The problems of a spec that must not compile, by path."""
    with pytest.raises(MappingError) as caught:
        compile_mapping(spec)
    listed = caught.value.problems
    assert str(caught.value).count("\n  - ") == len(listed)
    assert caught.value.as_errors() == [{"field": p.path, "message": p.message} for p in listed]
    found: dict[str, str] = {}
    for problem in listed:
        found[problem.path] = "; ".join(filter(None, (found.get(problem.path), problem.message)))
    return found


def with_field(target: str, field: Any, **top: Any) -> dict[str, Any]:
    """The OK identity spec plus one field."""
    return {**OK_IDENTITY, **top, "fields": {**OK_IDENTITY["fields"], target: field}}


def test_every_problem_is_listed_at_once_with_its_path() -> None:
    found = problems(
        {
            "kind": "identity",
            "type": "laptop",
            "fields": {
                "email": {"from": "mail", "steps": ["trim", "bogus", {"phone": {"region": "XX"}}]},
                "email.work": "a",
                "level": {"from": "lvl", "validate": [{"length": {"min": 5, "max": 1}}]},
            },
        }
    )
    assert found == {
        "fields.email.work": "email is a column, not an object; use attributes.email.work",
        "fields": "an identity mapping must map user_name",
        "external_id": found["external_id"],
        "type": "`type` is for resources, not an identity mapping",
        "fields.email.steps[1]": found["fields.email.steps[1]"],
        "fields.email.steps[2].phone.region": (
            "unknown region 'XX'; use a two-letter code like GB or US"
        ),
        "fields.level.validate[0].length": "`min` is larger than `max`",
    }
    assert "needs `external_id`" in found["external_id"]
    assert found["fields.email.steps[1]"].startswith("unknown step 'bogus'; steps are: trim,")


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ({"kind": "person", "fields": {}}, "kind", "Input should be"),
        ({**OK_IDENTITY, "surprise": 1}, "surprise", "unknown key 'surprise'"),
        ({**OK_IDENTITY, "fields": {}}, "fields", "at least 1 item"),
        ({**OK_IDENTITY, "on_error": "ignore"}, "on_error", "'skip' or 'fail'"),
        (with_field("a", {}), "fields.a", "a field needs one of: from, template, expr, value"),
        (
            with_field("a", {"from": "x", "value": 1}),
            "fields.a",
            "a field takes one of from, template, expr, value, not from and value",
        ),
        (with_field("a", {"from": "x..y"}), "fields.a.from", "not a field path: empty segment"),
        (with_field("a", {"from": "x[1"}), "fields.a.from", "not a field path"),
        (with_field("a", 5), "fields.a", "expected an object"),
        (with_field("a", {"template": "{x"}), "fields.a.template", "unclosed '{'"),
        (with_field("a", {"template": "x}"}), "fields.a.template", "unmatched '}'"),
        (with_field("a", {"template": "plain"}), "fields.a.template", "use `value`"),
        (with_field("a", {"template": "{x..y}"}), "fields.a.template", "placeholder {x..y}"),
        (with_field("a", {"expr": "1 +"}), "fields.a.expr", "not a valid expression"),
        (with_field("a", {"expr": "open('x')"}), "fields.a.expr", "unknown function"),
        (with_field("a", {"expr": "[x for x in y]"}), "fields.a.expr", "comprehensions"),
        (with_field("a", {"expr": "(lambda: 1)()"}), "fields.a.expr", "lambdas"),
        (with_field("a", {"from": "x", "steps": [7]}), "fields.a.steps[0]", "expected an object"),
        (
            with_field("a", {"from": "x", "steps": [{"trim": True, "lower": True}]}),
            "fields.a.steps[0]",
            "not trim and lower",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"frob": 1}]}),
            "fields.a.steps[0].frob",
            "unknown key 'frob'; steps are:",
        ),
        (with_field("a", {"from": "x", "steps": [{}]}), "fields.a.steps[0]", "a step needs one"),
        (with_field("a", {"from": "x", "steps": ["default"]}), "fields.a.steps[0]", "unknown"),
        (
            with_field("a", {"from": "x", "steps": [{"trim": False}]}),
            "fields.a.steps[0].trim",
            "Input should be True",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"date": "yyyy-mm-dd"}]}),
            "fields.a.steps[0].date.formats",
            "is not a date format",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"datetime": {"timezone": "Mars/Base"}}]}),
            "fields.a.steps[0].datetime.timezone",
            "unknown time zone 'Mars/Base'",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"split": ""}]}),
            "fields.a.steps[0].split.separator",
            "at least 1 character",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"replace": {"pattern": "(a"}}]}),
            "fields.a.steps[0].replace.pattern",
            "not a valid regular expression",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"replace": {"pattern": "(?=a)b"}}]}),
            "fields.a.steps[0].replace.pattern",
            "no look-around",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"replace": {"pattern": r"(a)\1"}}]}),
            "fields.a.steps[0].replace.pattern",
            "back-references",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"replace": {"with": "b"}}]}),
            "fields.a.steps[0].replace.pattern",
            "Field required",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"lookup": {"default": 1}}]}),
            "fields.a.steps[0].lookup",
            "either `table` or `use`",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"lookup": {"use": "t", "default": 1}}]}),
            "fields.a.steps[0].lookup",
            "set default and case_insensitive in the named lookup",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"lookup": "nope"}]}),
            "fields.a.steps[0].lookup",
            "no lookup named 'nope' (none defined)",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"when": {"equals": 1}}]}),
            "fields.a.steps[0]",
            "`when` needs `then` and/or `else` steps",
        ),
        (
            with_field("a", {"from": "x", "steps": [{"trim": True, "then": ["lower"]}]}),
            "fields.a.steps[0]",
            "`then` and `else` go with `when`",
        ),
        (
            with_field(
                "a", {"from": "x", "steps": [{"when": {"equals": 1}, "then": [{"lookup": "t"}]}]}
            ),
            "fields.a.steps[0].then[0].lookup",
            "no lookup named 't'",
        ),
        (
            with_field("a", {"from": "x", "validate": ["unique"]}),
            "fields.a.validate[0]",
            "unknown validator 'unique'",
        ),
        (
            with_field("a", {"from": "x", "validate": [{"regex": "a", "email": True}]}),
            "fields.a.validate[0]",
            "not email and regex",
        ),
        (
            with_field("a", {"from": "x", "validate": [{"range": {}}]}),
            "fields.a.validate[0].range",
            "give `min`, `max` or both",
        ),
        (
            with_field("a", {"from": "x", "validate": [{"one_of": []}]}),
            "fields.a.validate[0].one_of",
            "at least 1 item",
        ),
        (
            with_field("a", {"from": "x", "validate": [{"size": 1}]}),
            "fields.a.validate[0].size",
            "validators are: required",
        ),
        (
            with_field("a", {"from": "x", "when": {"equals": "y"}}),
            "fields.a.when",
            "every test here needs `field`",
        ),
        ({**OK_IDENTITY, "filter": {"present": True}}, "filter", "needs `field`"),
        ({**OK_IDENTITY, "filter": {"field": "a"}}, "filter", "a condition needs one of"),
        (
            {**OK_IDENTITY, "filter": {"field": "a", "equals": 1, "in": [1]}},
            "filter",
            "not equals and in",
        ),
        (
            {**OK_IDENTITY, "filter": {"field": "a", "all": [{"field": "b", "present": True}]}},
            "filter",
            "`field` goes on the conditions inside",
        ),
        ({**OK_IDENTITY, "filter": {"any": []}}, "filter.any", "at least 1 item"),
        (
            {**OK_IDENTITY, "filter": {"field": "a", "matches": "(?<=x)"}},
            "filter.matches",
            "look-around",
        ),
        (with_field("external_id", "x"), "fields.external_id", "not a field target"),
        (with_field("attributes", "x"), "fields.attributes", "not a field target"),
        (with_field("bad name", "x"), "fields.bad name", "a target is a name"),
        (
            {"kind": "group", "external_id": "id", "fields": {"name": "cn"}},
            "fields",
            "a group mapping must map display_name",
        ),
        (
            {"kind": "membership", "fields": {"group": "g", "extra": "x"}},
            "fields.extra",
            "memberships map only group, member and member_kind",
        ),
        (
            {"kind": "membership", "fields": {"group": "g"}},
            "fields",
            "must map member",
        ),
        (
            {"kind": "resource", "external_id": "id", "fields": {"name": "n"}},
            "type",
            "a resource mapping needs `type`",
        ),
        (
            {"kind": "resource", "type": "repo", "external_id": "id", "fields": {"key": "k"}},
            "fields.key",
            "its key is external_id",
        ),
    ],
)
def test_each_spec_error(spec: dict[str, Any], path: str, message: str) -> None:
    found = problems(spec)
    assert path in found, found
    assert message in found[path], found[path]


def test_a_good_spec_compiles_and_membership_needs_no_external_id() -> None:
    compile_mapping(OK_IDENTITY)
    compile_mapping({"kind": "membership", "fields": {"group": "g", "member": "m"}})


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("a", ("a",)),
        ("contact.email", ("contact", "email")),
        ("emails[0].value", ("emails", 0, "value")),
        ("a[-1]", ("a", -1)),
        ('["e.mail"]', ("e.mail",)),
        ('a["x \\" y"].b', ("a", 'x " y', "b")),
        ("First Name", ("First Name",)),
    ],
)
def test_paths(path: str, segments: tuple[str | int, ...]) -> None:
    assert parse_path(path) == segments


@pytest.mark.parametrize("path", ["", " a", "a.", ".a", "a..b", "a.[0]", "a[0]b", "a[x]", "a]"])
def test_bad_paths(path: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_path(path)


def test_a_pipeline_knows_the_source_fields_it_reads() -> None:
    pipeline = compile_mapping(
        {
            "kind": "identity",
            "external_id": {"template": "{system}:{ids[0]}"},
            "filter": {
                "any": [
                    {"field": "status.code", "equals": 1},
                    {"not": {"field": "gone", "present": True}},
                ]
            },
            "fields": {
                "user_name": {"expr": "coalesce(mail, lower(login)) if active else None"},
                "title": {
                    "from": '["job.title"]',
                    "when": {"field": "kind", "equals": "employee"},
                    "steps": [
                        {
                            "when": {"field": "country", "equals": "DE"},
                            "then": [
                                {"when": {"field": "lang", "present": True}, "then": ["upper"]}
                            ],
                        }
                    ],
                },
                "source": {"value": "hr"},
            },
        }
    )
    assert pipeline.reads == {
        "system", "ids", "status", "gone", "mail", "login", "active", "job.title", "kind",
        "country", "lang",
    }  # fmt: skip
