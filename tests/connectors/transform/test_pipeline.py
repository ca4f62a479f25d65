"""The compiled pipeline: every feature on real records, per-record errors and run strategies."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest

from gatehouse.connectors.protocol import Batch, RecordError
from gatehouse.connectors.transform import (
    FILTERED,
    Output,
    Pipeline,
    Rejected,
    Result,
    TransformFailed,
    compile_mapping,
)
from gatehouse.identity.schemas import GroupData, IdentityData


def identity(fields: dict[str, Any], **top: Any) -> Pipeline:
    """An identity pipeline keyed by `id`, with user_name from `login` unless given."""
    return compile_mapping(
        {"kind": "identity", "external_id": "id", "fields": {"user_name": "login", **fields}, **top}
    )


def output(result: Result) -> Output:
    """The output of a result that must have one."""
    assert isinstance(result, Output), result
    return result


def reasons(result: Result) -> dict[str | None, str]:
    """The reasons of a rejected result, by field."""
    assert isinstance(result, Rejected), result
    return {e.field: e.reason for e in result.errors}


PERSON = {
    "id": 1001,
    "login": " Ada.Lovelace ",
    "name": {"first": "Ada", "last": "Lovelace"},
    "emails": [{"value": "ADA@Example.com", "type": "work"}],
    "dept": "ENG",
    "status": "Active",
    "phone": "020 7946 0958",
    "hired": "10/12/2015",
    "seen": "2024-07-01 09:30:00",
    "level": "4",
    "tags": "math; poetry ;",
    "contractor": "N",
}


def test_an_identity_with_columns_nested_paths_and_attributes_fits_identity_data() -> None:
    pipeline = identity(
        {
            "user_name": {"from": "login", "steps": ["trim", "lower"]},
            "given_name": "name.first",
            "family_name": "name.last",
            "email": {"from": "emails[0].value", "steps": ["email"]},
            "display_name": {"template": "{name.first} {name.last}"},
            "department": {
                "from": "dept",
                "steps": [{"lookup": {"table": {"ENG": "Engineering"}, "default": "Other"}}],
            },
            "active": {
                "from": "status",
                "steps": ["lower", {"lookup": {"table": {"active": True}, "default": False}}],
            },
            "attributes.contact.phone": {"from": "phone", "steps": [{"phone": "GB"}]},
            "hired_on": {"from": "hired", "steps": [{"date": "%d/%m/%Y"}]},
            "last_seen": {
                "from": "seen",
                "steps": [
                    {"datetime": {"formats": ["%Y-%m-%d %H:%M:%S"], "timezone": "Europe/Paris"}}
                ],
            },
            "level": {"from": "level", "steps": ["integer"]},
            "tags": {"from": "tags", "steps": [{"split": ";"}]},
            "contractor": {"from": "contractor", "steps": ["boolean"]},
            "source": {"value": "hr"},
        }
    )
    out = output(pipeline.apply(PERSON))
    assert out.kind == "identity"
    assert out.external_id == "1001"
    assert out.data == {
        "user_name": "ada.lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@example.com",
        "display_name": "Ada Lovelace",
        "department": "Engineering",
        "active": True,
        "external_id": "1001",
        "attributes": {
            "contact": {"phone": "+442079460958"},
            "hired_on": "2015-12-10",
            "last_seen": "2024-07-01T07:30:00Z",
            "level": 4,
            "tags": ["math", "poetry"],
            "contractor": False,
            "source": "hr",
        },
    }
    IdentityData.model_validate(out.data)


def test_external_id_from_a_template_and_numbers_become_text() -> None:
    pipeline = identity({}, external_id={"template": "{dept}-{id}", "steps": ["lower"]})
    assert output(pipeline.apply(PERSON)).external_id == "eng-1001"
    assert reasons(pipeline.apply({"login": "x"})) == {
        None: "external_id is missing: the record has no value for it"
    }
    spaced = identity({})
    assert output(spaced.apply({"id": "  x-1 ", "login": "a"})).external_id == "x-1"
    assert reasons(spaced.apply({"id": {"a": 1}, "login": "a"})) == {
        None: "external_id must be text, got an object"
    }


def test_a_template_with_everything_missing_is_missing_and_required_says_so() -> None:
    pipeline = identity(
        {
            "display_name": {
                "template": "{first} {last}",
                "steps": ["trim"],
                "validate": ["required"],
            }
        }
    )
    assert (
        output(pipeline.apply({"id": 1, "login": "a", "first": "Ada"})).data["display_name"]
        == "Ada"
    )
    assert reasons(pipeline.apply({"id": 1, "login": "a"})) == {
        "display_name": "is required but missing or empty"
    }
    lists = identity({"display_name": {"template": "{first}"}})
    assert reasons(lists.apply({"id": 1, "login": "a", "first": ["x"]})) == {
        "display_name": "placeholder {first} is not text"
    }
    braces = identity({"display_name": {"template": "{{{first}}}"}})
    assert output(braces.apply({"id": 1, "login": "a", "first": "x"})).data["display_name"] == "{x}"


def test_expressions_compute_from_the_record_safely() -> None:
    pipeline = identity(
        {
            "email": {"expr": "coalesce(mail, login + '@example.com')", "steps": ["email"]},
            "title": {"expr": "upper(level_name) if int(level) > 3 else None"},
            "score": {"expr": "len(split(tags, ';'))"},
        }
    )
    out = output(
        pipeline.apply(
            {"id": 1, "login": "ada", "level": "4", "level_name": "staff", "tags": "a;b"}
        )
    )
    assert out.data["email"] == "ada@example.com"
    assert out.data["title"] == "STAFF"
    assert out.data["attributes"]["score"] == 2
    failed = reasons(pipeline.apply({"id": 1, "login": "ada", "level": "high", "tags": "x"}))
    assert failed == {"title": failed["title"]}
    assert failed["title"].startswith("the expression failed (ValueError)")
    assert "high" not in failed["title"]  # no values in errors


@pytest.mark.parametrize(
    "expr",
    ["x.__class__", "'{0.__class__}'.format(x)", "x.__len__()", "'a' * 10000000", "9 ** 9 ** 9"],
)
def test_expressions_cannot_escape_or_exhaust(expr: str) -> None:
    pipeline = identity({"a": {"expr": expr}})
    assert "a" in reasons(pipeline.apply({"id": 1, "login": "x", "x": "y"}))


def test_lookups_named_inline_case_insensitive_and_without_default() -> None:
    pipeline = identity(
        {
            "department": {"from": "dept", "steps": [{"lookup": "departments"}]},
            "region": {
                "from": "office",
                "steps": [{"lookup": {"table": {"lon": "EMEA"}, "case_insensitive": True}}],
            },
            "codes": {"from": "codes", "steps": [{"split": ","}, {"lookup": "departments"}]},
        },
        lookups={"departments": {"table": {"ENG": "Engineering", "1": "One"}, "default": None}},
    )
    out = output(
        pipeline.apply(
            {"id": 1, "login": "a", "dept": "ENG", "office": "LON", "codes": "ENG,1,zzz"}
        )
    )
    assert out.data["department"] == "Engineering"
    assert out.data["attributes"] == {"region": "EMEA", "codes": ["Engineering", "One", None]}
    assert output(pipeline.apply({"id": 1, "login": "a", "dept": 1})).data["department"] == "One"
    assert reasons(pipeline.apply({"id": 1, "login": "a", "office": "Paris"})) == {
        "region": "has no entry in the lookup table (add one, or give it a default)"
    }


def test_conditional_steps_on_the_value_and_on_other_fields() -> None:
    pipeline = identity(
        {
            "title": {
                "from": "title",
                "steps": [
                    {
                        "when": {"matches": "^mgr"},
                        "then": [{"replace": {"pattern": "^mgr", "with": "Manager"}}],
                    },
                    {
                        "when": {"field": "country", "in": ["DE", "AT"]},
                        "then": ["upper"],
                        "else": ["lower"],
                    },
                ],
            },
            "badge": {
                "from": "badge",
                "steps": [{"when": {"present": False}, "then": [{"default": "none"}]}],
            },
        }
    )
    assert (
        output(pipeline.apply({"id": 1, "login": "a", "title": "mgr Sales", "country": "DE"})).data[
            "title"
        ]
        == "MANAGER SALES"
    )
    out = output(
        pipeline.apply({"id": 1, "login": "a", "title": "Eng", "country": "FR", "badge": ""})
    )
    assert out.data["title"] == "eng"
    assert out.data["attributes"] == {"badge": "none"}


def test_field_level_when_writes_the_target_only_when_it_holds() -> None:
    pipeline = identity(
        {
            "cost_center": {
                "from": "cc",
                "when": {
                    "all": [
                        {"field": "type", "equals": "employee"},
                        {"not": {"field": "cc", "present": False}},
                    ]
                },
            }
        }
    )
    assert (
        output(pipeline.apply({"id": 1, "login": "a", "type": "employee", "cc": "C1"})).data[
            "cost_center"
        ]
        == "C1"
    )
    assert (
        "cost_center"
        not in output(
            pipeline.apply({"id": 1, "login": "a", "type": "contractor", "cc": "C1"})
        ).data
    )
    assert (
        "cost_center"
        not in output(pipeline.apply({"id": 1, "login": "a", "type": "employee"})).data
    )


def test_filters_skip_records_that_do_not_match() -> None:
    pipeline = identity(
        {},
        filter={
            "any": [
                {"field": "status", "equals": "ACTIVE"},
                {
                    "all": [
                        {"field": "status", "in": ["STAGED", 1]},
                        {"field": "email", "matches": "@example\\.com$"},
                    ]
                },
            ]
        },
    )
    assert isinstance(pipeline.apply({"id": 1, "login": "a", "status": "ACTIVE"}), Output)
    assert isinstance(
        pipeline.apply({"id": 1, "login": "a", "status": "1", "email": "a@example.com"}), Output
    )
    assert (
        pipeline.apply({"id": 1, "login": "a", "status": "STAGED", "email": "a@other.org"})
        is FILTERED
    )
    assert pipeline.apply({"id": 1, "login": "a"}) is FILTERED
    numbers = identity({}, filter={"field": "active", "equals": True})
    assert isinstance(numbers.apply({"id": 1, "login": "a", "active": "true"}), Output)


def test_validators_report_every_failure_of_a_record() -> None:
    pipeline = identity(
        {
            "email": {"from": "mail", "validate": ["required", "email"]},
            "employee_number": {"from": "num", "validate": [{"regex": "E\\d{4}"}]},
            "department": {"from": "dept", "validate": [{"one_of": ["Eng", "Ops"]}]},
            "nick": {"from": "nick", "validate": [{"length": {"min": 2, "max": 5}}]},
            "level": {
                "from": "level",
                "steps": ["integer"],
                "validate": [{"range": {"min": 1, "max": 9}}],
            },
            "raw_level": {"from": "level", "validate": [{"range": {"max": 9}}]},
        }
    )
    good = {
        "id": 1,
        "login": "a",
        "mail": "a@b.co",
        "num": "E0001",
        "dept": "Eng",
        "nick": "ab",
        "level": "9",
    }
    assert isinstance(pipeline.apply({**good, "level": 9}), Output)
    bad = {
        "id": 1,
        "login": "a",
        "mail": "nope",
        "num": "E01",
        "dept": "HR",
        "nick": "abcdef",
        "level": "12",
    }
    assert reasons(pipeline.apply(bad, row=7)) == {
        "email": "is not a valid e-mail address",
        "employee_number": "does not match the pattern",
        "department": "must be one of: Eng, Ops",
        "nick": "is longer than 5",
        "level": "is more than 9",
        "raw_level": "expected a number (add an `integer` step to convert text)",
    }
    rejected = pipeline.apply(bad, row=7)
    assert isinstance(rejected, Rejected)
    assert {e.row for e in rejected.errors} == {7}
    assert (
        reasons(pipeline.apply({**good, "mail": ""}))["email"] == "is required but missing or empty"
    )
    assert "nope" not in str(rejected.errors)  # values never appear in errors


def test_identity_columns_are_fitted_to_the_store() -> None:
    pipeline = identity({"title": "title", "employee_number": "num", "active": "flag"})
    out = output(pipeline.apply({"id": 1, "login": "a", "title": "x", "num": 12.0, "flag": "yes"}))
    assert out.data["employee_number"] == "12"
    assert out.data["active"] is True
    assert "active" not in output(pipeline.apply({"id": 1, "login": "a", "flag": None})).data
    assert reasons(pipeline.apply({"id": 1, "login": "a", "title": "t" * 300})) == {
        "title": "title is longer than 256 characters"
    }
    assert reasons(pipeline.apply({"id": 1, "login": "a", "title": ["x"]})) == {
        "title": "title must be text, got a list"
    }
    assert reasons(pipeline.apply({"id": 1, "login": ""})) == {
        None: "user_name is missing or empty"
    }
    required = identity({"user_name": {"from": "login", "validate": ["required"]}})
    rejected = required.apply({"id": 7, "login": ""})
    assert reasons(rejected) == {"user_name": "is required but missing or empty"}  # once
    assert isinstance(rejected, Rejected) and rejected.external_id == "7"
    assert rejected.reason == "user_name: is required but missing or empty"


def test_groups_memberships_and_resources() -> None:
    groups = compile_mapping(
        {"kind": "group", "external_id": "cn", "fields": {"display_name": "name", "owner": "owner"}}
    )
    group = output(groups.apply({"cn": "eng", "name": "Engineering", "owner": "ada"}))
    assert group == Output(
        "group",
        "eng",
        {"display_name": "Engineering", "external_id": "eng", "attributes": {"owner": "ada"}},
    )
    GroupData.model_validate(group.data)

    members = compile_mapping(
        {"kind": "membership", "fields": {"group": "cn", "member": "uid", "member_kind": "kind"}}
    )
    assert output(members.apply({"cn": "eng", "uid": "E1"})) == Output(
        "membership", None, {"group": "eng", "member": "E1", "member_kind": "identity"}
    )
    kind = output(members.apply({"cn": "eng", "uid": "sub", "kind": "Group"}))
    assert kind.data["member_kind"] == "group"
    assert reasons(members.apply({"cn": "eng", "uid": "x", "kind": "robot"})) == {
        "member_kind": "member_kind must be identity or group"
    }
    assert reasons(members.apply({"cn": "eng", "uid": ""})) == {
        None: "a membership needs both group and member; member is empty"
    }
    assert reasons(members.apply({"cn": "eng", "uid": ["a", "b"]})) == {
        "member": "member must be one id: map one row per membership"
    }

    repos = compile_mapping(
        {
            "kind": "resource",
            "type": "repository",
            "external_id": "full_name",
            "fields": {
                "private": {"from": "private", "steps": ["boolean"]},
                "owner.login": "owner.login",
            },
        }
    )
    assert output(
        repos.apply({"full_name": "acme/api", "private": "true", "owner": {"login": "acme"}})
    ) == Output(
        "resource",
        "acme/api",
        {
            "type": "repository",
            "key": "acme/api",
            "attributes": {"private": True, "owner": {"login": "acme"}},
        },
    )


def test_run_skips_and_reports_or_fails_the_run() -> None:
    pipeline = identity(
        {"email": {"from": "mail", "steps": ["email"]}}, filter={"field": "skip", "present": False}
    )
    records = [
        {"id": 1, "login": "a", "mail": "a@x.io"},
        {"id": 2, "login": "b", "mail": "bad"},
        {"id": 3, "login": "c", "skip": "y"},
        {"id": 4, "login": "d"},
    ]
    done = pipeline.run(records, rows=[10, 11, 12, 13])
    assert [o.external_id for o in done.outputs] == ["1", "4"]
    assert done.errors == [
        RecordError(11, "not an e-mail address (no local part, '@' and domain)", "email")
    ]
    assert done.filtered == 1
    assert done.rows == 4
    with pytest.raises(TransformFailed, match="row 2, email") as caught:
        pipeline.run(records, on_error="fail")
    assert caught.value.errors[0].row == 2
    strict = identity({}, on_error="fail")
    with pytest.raises(TransformFailed, match="on_error=skip"):
        strict.run([{"login": "x"}])


def test_batches_keep_checkpoints_rows_and_source_errors() -> None:
    pipeline = identity({})
    batches = [
        Batch(
            [{"id": 1, "login": "a"}, {"id": 2}], {"row": 3}, [RecordError(2, "malformed")], [1, 3]
        ),
        Batch([{"id": 4, "login": "d"}], {"row": 4}),
    ]
    first, second = pipeline.batches(batches)
    assert [o.external_id for o in first.outputs] == ["1"]
    assert first.errors == [
        RecordError(2, "malformed"),
        RecordError(3, "user_name is missing or empty"),
    ]
    assert first.state == {"row": 3}
    assert first.rows == 3
    assert second.errors == [] and second.state == {"row": 4}
    assert [o.external_id for o in second.outputs] == ["4"]
    with pytest.raises(TransformFailed, match="malformed"):
        list(pipeline.batches(batches, on_error="fail"))
    earlier = [
        Batch([{"id": 1}, {"id": 3, "login": "c"}], None, [RecordError(2, "malformed")], [1, 3])
    ]
    with pytest.raises(TransformFailed, match="row 1: user_name is missing"):
        list(pipeline.batches(earlier, on_error="fail"))


def test_one_pipeline_serves_many_threads() -> None:
    pipeline = identity({"display_name": {"expr": "login + '!'"}})
    seen: list[str] = []

    def work(n: int) -> None:
        for i in range(300):
            out = output(pipeline.apply({"id": i, "login": f"t{n}-{i}"}))
            if out.data["display_name"] != f"t{n}-{i}!":
                seen.append(out.data["display_name"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == []


def test_the_example_in_docs_transform_md() -> None:
    mapping = {
        "kind": "identity",
        "external_id": "employee_number",
        "filter": {"field": "status", "in": ["ACTIVE", "LEAVE", "SUSPENDED"]},
        "lookups": {
            "departments": {"table": {"ENG": "Engineering", "FIN": "Finance"}, "default": "Other"}
        },
        "on_error": "skip",
        "fields": {
            "user_name": {"from": "login", "steps": ["trim", "lower"], "validate": ["required"]},
            "email": {"from": "contact.email", "steps": ["email"]},
            "given_name": "name.first",
            "family_name": "name.last",
            "display_name": {"template": "{name.first} {name.last}", "steps": ["trim"]},
            "department": {"from": "dept", "steps": [{"lookup": "departments"}]},
            "active": {
                "from": "status",
                "steps": [{"lookup": {"table": {"SUSPENDED": False}, "default": True}}],
            },
            "attributes.phone": {"from": "contact.phones[0]", "steps": [{"phone": "GB"}]},
            "hired_on": {"from": "hired", "steps": [{"date": "%d/%m/%Y"}]},
            "level": {
                "from": "grade",
                "steps": ["integer"],
                "validate": [{"range": {"min": 1, "max": 9}}],
            },
        },
    }
    record = {
        "employee_number": "E042",
        "login": " Ada ",
        "contact": {"email": "ADA@Example.com", "phones": ["020 7946 0958"]},
        "name": {"first": "Ada", "last": "Lovelace"},
        "dept": "ENG",
        "status": "ACTIVE",
        "hired": "10/12/2015",
        "grade": "4",
    }
    assert compile_mapping(mapping).apply(record) == Output(
        "identity",
        "E042",
        {
            "user_name": "ada",
            "email": "ada@example.com",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "display_name": "Ada Lovelace",
            "department": "Engineering",
            "active": True,
            "external_id": "E042",
            "attributes": {"phone": "+442079460958", "hired_on": "2015-12-10", "level": 4},
        },
    )


def test_database_values_fit_columns_attributes_and_conditions() -> None:
    pipeline = identity(
        {
            "employee_number": "number",
            "title": "uid",
            "hired": "hired",
            "born": "born",
            "salary": "salary",
            "rate": "rate",
            "tags": "tags",
            "extra": "extra",
        },
        filter={"field": "number", "in": ["42"]},
    )
    uid = UUID("12345678-1234-5678-1234-567812345678")
    record = {
        "id": Decimal("7"),
        "login": "a",
        "number": Decimal("42.000"),
        "uid": uid,
        "hired": datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
        "born": date(1990, 5, 6),
        "salary": Decimal("1234.50"),
        "rate": Decimal("3"),
        "tags": ("a", Decimal("1")),
        "extra": {"when": time(9, 30), 5: uid},
    }
    out = output(pipeline.apply(record))
    assert out.external_id == "7"
    assert out.data["employee_number"] == "42"
    assert out.data["title"] == str(uid)
    assert out.data["attributes"] == {
        "hired": "2020-01-02T03:04:05+00:00",
        "born": "1990-05-06",
        "salary": 1234.5,
        "rate": 3,
        "tags": ["a", 1],
        "extra": {"when": "09:30:00", "5": str(uid)},
    }
    assert orjson.loads(orjson.dumps(out.data)) == out.data
    assert reasons(pipeline.apply({**record, "extra": b"\x00"})) == {
        "extra": "binary data cannot be stored as an attribute; convert it with a step"
    }
    assert reasons(pipeline.apply({**record, "uid": b"\x00"})) == {
        "title": "title must be text, got binary data"
    }
