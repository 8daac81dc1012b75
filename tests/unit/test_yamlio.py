import time

import pytest

from plumbline.yamlio import YamlError, load_documents, load_documents_with_lines

BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_multi_document_yaml_keeps_file_index_and_line() -> None:
    docs = load_documents("a: 1\n---\n# comment\nb: 2\n---\n", file="x.yaml")
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    assert [(d.file, d.index, d.line) for d in docs] == [("x.yaml", 0, 1), ("x.yaml", 1, 4)]


def test_alias_bomb_is_refused_quickly() -> None:
    began = time.monotonic()
    with pytest.raises(YamlError, match=r"bomb\.yaml:2: .*alias bomb"):
        load_documents(BILLION_LAUGHS, file="bomb.yaml")
    assert time.monotonic() - began < 2


def test_modest_aliases_are_fine() -> None:
    docs = load_documents("base: &b {x: 1}\nuse: *b\n", file="ok.yaml")
    assert docs[0].data == {"base": {"x": 1}, "use": {"x": 1}}


def test_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(YamlError, match=r"^bad\.yaml:2:\d+: not valid YAML"):
        load_documents("a: 1\n b: [\n", file="bad.yaml")


def test_duplicate_keys_are_an_error() -> None:
    with pytest.raises(YamlError, match=r"dup\.yaml"):
        load_documents("a: 1\na: 2\n", file="dup.yaml")


def test_oversized_file_is_refused() -> None:
    with pytest.raises(YamlError, match="more than"):
        load_documents("a: " + "x" * (5 * 1024 * 1024), file="big.yaml")


def test_object_constructing_tags_are_refused() -> None:
    with pytest.raises(YamlError):
        load_documents("!!python/object/apply:os.system ['true']\n", file="evil.yaml")


def test_line_numbers_in_round_trip_mode() -> None:
    docs = load_documents_with_lines("kind: App\nspec:\n  mode: fast\n", file="a.yaml")
    assert docs[0].data["spec"].lc.key("mode")[0] + 1 == 3


def test_timestamps_stay_strings_and_yaml_11_booleans_are_read_as_kubectl_does() -> None:
    (doc,) = load_documents("date: 2024-01-01\nenabled: yes\nmode: '0755'\n", file="k.yaml")
    assert doc.data == {"date": "2024-01-01", "enabled": True, "mode": "0755"}


def test_duplicate_key_names_its_line() -> None:
    with pytest.raises(YamlError, match=r"dup\.yaml:4: duplicate key 'a'"):
        load_documents("a0: 1\nb: 2\na: 3\na: 4\n", file="dup.yaml")
