"""The field catalog loader: the shipped catalog loads; every wrong key is named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fieldgate.core.vocabulary import IDENTIFIER_KINDS
from fieldgate.policy.catalog import (
    FIELD_TYPES,
    SENSITIVITY_CLASSES,
    FieldSpec,
    default_catalog_path,
    load_catalog,
    parse_catalog,
)
from fieldgate.policy.errors import CatalogError, PolicyError

GOOD_FIELD = '[fields.surname]\nclass = "identity"\ntype = "string"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_standard_catalog_loads_every_field_in_file_order() -> None:
    path = default_catalog_path()
    catalog = load_catalog(path)
    with path.open("rb") as handle:
        in_file = list(tomllib.load(handle)["fields"])
    assert list(catalog.fields) == in_file
    assert list(catalog.classes()) == in_file
    assert catalog.fields["dob"] == FieldSpec("dob", "identity", "date", "Date of birth")
    assert catalog.fields["address"].type == "address"
    assert catalog.classes()["booking_photo_ref"] == "biometric"
    assert set(IDENTIFIER_KINDS) <= set(catalog.fields)
    assert {spec.type for spec in catalog.fields.values()} == set(FIELD_TYPES)
    assert set(catalog.classes().values()) == SENSITIVITY_CLASSES
    assert "surname" in catalog
    assert "favourite_colour" not in catalog


def test_catalog_fields_are_read_only() -> None:
    catalog = load_catalog(default_catalog_path())
    with pytest.raises(TypeError):
        catalog.fields["x"] = FieldSpec("x", "identity", "string", "")  # type: ignore[index]


def test_error_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'version = 1\n[fields.dob]\nclass = "identity"\ntype = "datetime"\n')
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert str(caught.value).startswith(f"{path}: fields.dob.type: unknown type 'datetime'")
    assert caught.value.key == "fields.dob.type"
    assert caught.value.path == str(path)
    assert isinstance(caught.value, PolicyError)


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            'version = 1\n[fields.dob]\nclass = "idenity"\ntype = "date"\n',
            "fields.dob.class",
            "unknown class 'idenity'",
        ),
        ('version = 1\n[fields.dob]\nclass = "identity"\n', "fields.dob.type", "is missing"),
        ('version = 1\n[fields.dob]\ntype = "date"\n', "fields.dob.class", "is missing"),
        (
            'version = 1\n[fields.dob]\nclass = "identity"\ntype = "date"\nsecret = true\n',
            "fields.dob.secret",
            "unknown key",
        ),
        (
            'version = 1\n[fields.dob]\nclass = "identity"\ntype = "string"\n',
            "fields.dob.type",
            "as a date",
        ),
        (
            'version = 1\n[fields.state_id]\nclass = "identity"\ntype = "integer"\n',
            "fields.state_id.type",
            "as a string",
        ),
        (
            'version = 1\n[fields.record_id]\nclass = "identity"\ntype = "string"\n',
            "fields.record_id",
            "reserved",
        ),
        (
            'version = 1\n[fields.Surname]\nclass = "identity"\ntype = "string"\n',
            "fields.Surname",
            "lower-case",
        ),
        (
            'version = 1\n[fields.x]\nclass = "identity"\ntype = "string"\ndescription = 3\n',
            "fields.x.description",
            "must be a string",
        ),
        ("version = 1\nfields = 3\n", "fields", "at least one field"),
        ("version = 1\n", "fields", "at least one field"),
        ("version = 2\n" + GOOD_FIELD, "version", "reads version 1"),
        (GOOD_FIELD, "version", "is None"),
        ("version = 1\nowner = 'kcso'\n" + GOOD_FIELD, "owner", "unknown key"),
        ("version = 1\n[fields]\nsurname = 'identity'\n", "fields.surname", "must be a table"),
    ],
)
def test_bad_key_is_named(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert caught.value.key == key
    assert fragment in caught.value.reason
    assert f"{path}: {key}: " in str(caught.value)


def test_not_toml_and_missing_file_are_catalog_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(write(tmp_path, "version = = 1\n"))
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "absent.toml")


def test_parse_catalog_accepts_a_minimal_catalog_and_keeps_order() -> None:
    catalog = parse_catalog(
        {
            "version": 1,
            "fields": {
                "surname": {"class": "identity", "type": "string"},
                "address": {"class": "location", "type": "address", "description": "home"},
            },
        },
        source="inline",
    )
    assert catalog.classes() == {"surname": "identity", "address": "location"}
    assert catalog.fields["surname"].description == ""
    assert catalog.source == "inline"
