"""``portal.access.staff`` is a package, one module per kind of object; its face
re-exports each rule (the same object), it does not copy one."""

from __future__ import annotations

import importlib
import pkgutil

import portal.access.staff as staff

# Every module of the package: a new kind of object is held to the rule the day it lands.
MODULES = tuple(info.name for info in pkgutil.iter_modules(staff.__path__))


def test_every_public_staff_rule_lives_in_exactly_one_module_and_is_re_exported():
    homes: dict[str, list[str]] = {}
    for name in MODULES:
        module = importlib.import_module(f"portal.access.staff.{name}")
        for attribute, value in vars(module).items():
            if getattr(value, "__module__", None) == module.__name__ and callable(value):
                homes.setdefault(attribute, []).append(name)
    public = {name for name in homes if not name.startswith("_")}
    assert public <= set(staff.__all__)
    for name in staff.__all__:
        value = getattr(staff, name)
        if callable(value):
            assert homes.get(name) and len(homes[name]) == 1, name
            assert value.__module__ == f"portal.access.staff.{homes[name][0]}"


def test_the_rules_sit_with_their_kind_of_object():
    assert staff.staff_ticket.__module__.endswith(".tickets")
    assert staff.staff_may_work_ticket.__module__.endswith(".tickets")
    assert staff.staff_proposal.__module__.endswith(".proposals")
    assert staff.organization_filter.__module__.endswith(".organizations")
    assert staff.staff_contact.__module__.endswith(".organizations")
    assert staff.staff_may_configure_service.__module__.endswith(".setup")
    assert staff.staff_can.__module__.endswith(".abilities")
    assert staff.staff_lead.__module__.endswith(".leads")
    assert staff.lead_filter.__module__.endswith(".leads")
