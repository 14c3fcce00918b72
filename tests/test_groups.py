"""Boolean groups: the grammar, its problems, and groups over HTTP on every backend."""

from __future__ import annotations

import re
from random import Random
from typing import Any

import pytest
from conftest import Api
from test_query_language import fetch_all

from crud.http.groups import GroupSyntax, GroupSyntaxError, TermSyntax, group_pattern, parse_group

BUILDS = "/api/v1/koji-builds"


def parsed(text: str, kind: Any = "or", **caps: int) -> GroupSyntax:
    return parse_group(kind, text, max_depth=caps.get("depth", 3),
                       max_terms=caps.get("terms", 20))[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("(status=failure)", GroupSyntax("or", (TermSyntax("status", "failure", 1),), 0)),
    ("(a=1,b__like=x y)", GroupSyntax("or", (TermSyntax("a", "1", 1),
                                             TermSyntax("b__like", "x y", 5)), 0)),
    ("(a=,b=2)", GroupSyntax("or", (TermSyntax("a", "", 1), TermSyntax("b", "2", 4)), 0)),
    ('(a="1,2",b="x(\\"y\\")\\\\")', GroupSyntax("or", (
        TermSyntax("a", "1,2", 1), TermSyntax("b", 'x("y")\\', 9)), 0)),
    ("(a=1,and=(b=2,or=(c=3,d=4)))", GroupSyntax("or", (
        TermSyntax("a", "1", 1),
        GroupSyntax("and", (TermSyntax("b", "2", 10), GroupSyntax("or", (
            TermSyntax("c", "3", 18), TermSyntax("d", "4", 22)), 17)), 9)), 0)),
    ("(or=x)", GroupSyntax("or", (TermSyntax("or", "x", 1),), 0)),  # a filter named "or"
], ids=["one", "two", "empty-value", "quoted", "nested", "kind-name-as-filter"])
def test_groups_parse_into_a_tree_with_positions(text: str, expected: GroupSyntax) -> None:
    assert parsed(text) == expected


@pytest.mark.parametrize(("text", "message", "position"), [
    ("", "expected '(' opening the group, found the end", 0),
    ("status=failure", "expected '(' opening the group, found 's'", 0),
    ("(status=failure", "unbalanced parentheses: the '(' at position 0 is never closed", 15),
    ("(a=1,and=(b=2)", "unbalanced parentheses: the '(' at position 0 is never closed", 14),
    ("(a=1))", "unexpected text after the closing ')'", 5),
    ("()", "an empty group; write at least one term", 1),
    ("(a=1,)", "expected a filter name, found ')'", 5),
    ("(status)", "expected '=' after 'status', found ')'", 7),
    ("(a=x(y))", "'(' inside a value; write values holding , ( ) or \" in double quotes", 4),
    ('(a="x)', "a quoted value is never closed", 3),
    ('(a="x"y)', "expected ',' or ')' after a term, found 'y'", 6),
    ("(and=(or=(and=(a=1))))", "groups nest at most 3 deep", 14),
    ("(a=1,b=2,c=3)", "more than 2 terms in the groups of one request", 9),
], ids=["empty", "no-parens", "unclosed", "unclosed-nested", "trailing", "empty-group",
        "empty-term", "no-equals", "paren-in-value", "unclosed-quote", "after-quote",
        "too-deep", "too-many"])
def test_bad_groups_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(GroupSyntaxError) as caught:
        parsed(text, terms=2)
    assert (caught.value.message, caught.value.position) == (message, position)


def test_the_term_cap_counts_every_group_of_a_request() -> None:
    _, used = parse_group("or", "(a=1,b=2)", max_depth=3, max_terms=3)
    with pytest.raises(GroupSyntaxError, match="more than 3 terms"):
        parse_group("and", "(c=1,d=2)", max_depth=3, max_terms=3, used=used)


# -- over HTTP ----------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "status", "error"), [
    ("or=(statuz=failure)", 400, {
        "message": "at position 1: no filter 'statuz' (did you mean 'status'?)",
        "value": "(statuz=failure)", "position": 1}),
    ("or=(status=failure,and=(scratch=true,chroot__ilike=x))", 400, {
        "message": "at position 34: 'chroot' has no operator 'ilike' here (declared: chroot, "
                   "chroot__in, chroot__like, chroot__startswith)",
        "value": "(status=failure,and=(scratch=true,chroot__ilike=x))", "position": 34}),
    ("or=(webhook_secret=x)", 400, {
        "message": "at position 1: no filter 'webhook_secret' (valid: "
                   "build_submitted_time__gte, build_submitted_time__isnull, "
                   "build_submitted_time__lt, chroot, chroot__in, chroot__like, "
                   "chroot__startswith, packit_id__gt, packit_id__in, packit_id__lt, pr_id, "
                   "repo_namespace, repo_namespace__ilike, scratch, status, status__in, "
                   "status__neq, status__not_in, task_id, task_id__isnull, task_id__like, "
                   "task_id__startswith)",
        "value": "(webhook_secret=x)", "position": 1}),
    ("or=(status=failure", 400, {
        "message": "at position 15: unbalanced parentheses: the '(' at position 0 is never "
                   "closed", "value": "(status=failure", "position": 15}),
    ("or=(and=(or=(and=(status=failure))))", 400, {
        "message": "at position 14: groups nest at most 3 deep",
        "value": "(and=(or=(and=(status=failure))))", "position": 14}),
    ("or=(" + ",".join(f"packit_id__gt={n}" for n in range(21)) + ")", 400, {
        "message": "at position 331: more than 20 terms in the groups of one request",
        "value": "(" + ",".join(f"packit_id__gt={n}" for n in range(21)) + ")",
        "position": 331}),
    ("or=(scratch=true,status=exploded)", 422, {
        "message": "at position 14: term 'status=exploded': Input should be 'pending', "
                   "'running', 'success', 'failure' or 'error'",
        "value": "(scratch=true,status=exploded)", "position": 14,
        "term": "status=exploded"}),
    ('and=(packit_id__in="1,x")', 422, {
        "message": "at position 1: term 'packit_id__in=1,x': item 2: Input should be a whole "
                   "number in decimal digits",
        "value": '(packit_id__in="1,x")', "position": 1, "term": "packit_id__in=1,x"}),
    ("or=(task_id__like=a%25\\)", 422, {
        "message": "at position 1: term 'task_id__like=a%\\\\': a pattern cannot end with a "
                   "lone escape character \\", "value": "(task_id__like=a%\\)",
        "position": 1, "term": "task_id__like=a%\\"}),
], ids=["undeclared-field", "unknown-operator", "undeclared-column", "unbalanced",
        "too-deep", "too-many-terms", "bad-enum", "bad-list-item", "bad-pattern"])
async def test_bad_groups_are_problems_quoting_the_text_and_position(
        demo_api: Api, query: str, status: int, error: dict[str, Any]) -> None:
    response = await demo_api.get(f"{BUILDS}?{query}")
    assert (response.status_code, response.headers["content-type"]) == \
        (status, "application/problem+json")
    body = response.json()
    kind = query.partition("=")[0]
    assert body["errors"] == [{"parameter": kind, **error}]
    assert body["detail"].startswith(f"{kind}: at position {error['position']}")
    assert repr(error["value"]) in body["detail"] or status == 422


async def test_groups_and_with_each_other_and_the_plain_filters(
        demo_api: Api) -> None:
    everything = await fetch_all(demo_api, BUILDS)
    params = [("or", "(status=failure,status=error)"), ("or", "(scratch=true,chroot__like=rawhide)"),
              ("packit_id__gt", "20"), ("size", "100")]
    body = (await demo_api.get(BUILDS, params=params)).json()
    expected = [row for row in everything if row["status"] in {"failure", "error"}
                and (row["scratch"] or "rawhide" in row["chroot"]) and row["packit_id"] > 20]
    assert expected
    assert (body["total"], body["items"]) == (len(expected), expected[:100])


async def test_a_group_page_is_one_statement(demo_api: Api) -> None:
    demo_api.log.clear()
    response = await demo_api.get(f"{BUILDS}?or=(status=failure,repo_namespace=packit)&size=5")
    assert response.status_code == 200
    assert demo_api.log.count == 1


async def test_cursors_are_bound_to_their_groups(demo_api: Api) -> None:
    everything = await fetch_all(demo_api, BUILDS)
    group = "(status=failure,chroot__like=rawhide)"
    expected = [row["packit_id"] for row in everything
                if row["status"] == "failure" or "rawhide" in row["chroot"]]
    seen: list[int] = []
    params: dict[str, str] = {"or": group, "size": "7", "cursor": ""}
    while True:
        body = (await demo_api.get(BUILDS, params=params)).json()
        seen.extend(item["packit_id"] for item in body["items"])
        if not body["next"]:
            break
        params["cursor"] = body["next"].rpartition("cursor=")[2].replace("%3D", "=")
    assert seen == expected
    first = (await demo_api.get(BUILDS, params={"or": group, "size": "7", "cursor": ""})).json()
    token = first["next"].rpartition("cursor=")[2].replace("%3D", "=")
    for other in ({"or": "(status=failure,chroot__like=epel)"}, {},
                  {"and": group}, {"or": group, "status": "failure"}):
        response = await demo_api.get(BUILDS, params={**other, "size": "7", "cursor": token})
        assert response.status_code == 400, other
        assert response.json()["errors"][0]["parameter"] == "cursor"


def _names(group: GroupSyntax) -> list[str]:
    return [name for term in group.terms
            for name in (_names(term) if isinstance(term, GroupSyntax) else [term.name])]


def _parses(text: str) -> bool:
    try:
        group, _terms = parse_group("or", text, max_depth=3, max_terms=1000)
    except GroupSyntaxError:
        return False
    return all(_names(group))  # '(=1)' parses, then no filter is named '': refused anyway


def test_the_documented_pattern_is_the_grammar() -> None:
    # The OpenAPI pattern and the parser agree on every string over the grammar's
    # alphabet up to eight characters (or=(0) was valid per the old pattern, then a 400).
    pattern = re.compile(group_pattern(3))
    alphabet = 'a=1,()"\\'
    random = Random(25)
    texts = ["(0)", "(or=(a=1),b=2)", "(and=(or=(and=(a=1))))", '(a="x,y")', '(a="x\\")']
    texts += ["(" + "".join(random.choice(alphabet) for _ in range(random.randint(0, 8))) + ")"
              for _ in range(20_000)]
    differ = [text for text in texts if bool(pattern.fullmatch(text)) != _parses(text)]
    assert differ == []
