"""Section and page templates: ready-made component trees a creator starts from.

A section template (hero, features, testimonials, pricing, FAQ, contact, footer) is a
tree the builder inserts into a page; a page template (landing, about, contact, blank)
is the tree a new page starts with. Both are plain data built from the built-in
components, checked by the component registry like any tree a person sends (a test
validates every one), and carry no node ids: each insertion gets fresh ones.

Their copy is written to read well yet be replaced: every string a template sets is a
*placeholder* (:func:`placeholder_texts`), and the builder warns at publish about any
component still holding one, as it does for a component's own default text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugins.website.components import BUILTIN_COMPONENTS
from plugins.website.types import BlueprintsView, BlueprintView

Tree = list[dict[str, Any]]


def _node(type: str, children: Tree | None = None, **props: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": type, "props": props}
    if children is not None:
        node["children"] = children
    return node


def heading(text: str, level: int = 2, align: str = "start") -> dict[str, Any]:
    return _node("heading", text=text, level=level, align=align)


def text(html: str, align: str = "start") -> dict[str, Any]:
    return _node("text", html=html, align=align)


def button(label: str, href: str = "#", style: str = "primary") -> dict[str, Any]:
    return _node("button", label=label, href=href, style=style)


def section(label: str, children: Tree, **props: Any) -> dict[str, Any]:
    return _node("section", children, label=label, **props)


def columns(count: int, children: Tree, gap: str = "large") -> dict[str, Any]:
    return _node("columns", children, columns=count, gap=gap)


@dataclass(frozen=True)
class Blueprint:
    """A named tree: ``name`` is its stable key, ``label`` and ``description`` are shown
    in the builder."""

    name: str
    label: str
    description: str
    tree: Tree


SECTION_TEMPLATES: tuple[Blueprint, ...] = (
    Blueprint(
        "hero",
        "Hero",
        "A bold opening: headline, one line of promise, a call to action",
        [
            section(
                "Introduction",
                [
                    heading("Say what you do in one clear line", 1),
                    text(
                        "<p>One or two sentences on who it is for and why it matters. "
                        "Keep it short: visitors decide in seconds.</p>"
                    ),
                    button("Get started", "#contact"),
                    button("See how it works", "#features", "secondary"),
                ],
                background="muted",
                padding="large",
                width="narrow",
            )
        ],
    ),
    Blueprint(
        "features",
        "Features",
        "Three benefits side by side",
        [
            section(
                "Features",
                [
                    heading("Why people choose us", 2, "center"),
                    columns(
                        3,
                        [
                            section(
                                "",
                                [
                                    heading("Fast to start", 3),
                                    text("<p>Describe the first benefit in a sentence.</p>"),
                                ],
                                padding="small",
                            ),
                            section(
                                "",
                                [
                                    heading("Made with care", 3),
                                    text("<p>Describe the second benefit in a sentence.</p>"),
                                ],
                                padding="small",
                            ),
                            section(
                                "",
                                [
                                    heading("Here when you need us", 3),
                                    text("<p>Describe the third benefit in a sentence.</p>"),
                                ],
                                padding="small",
                            ),
                        ],
                    ),
                ],
                width="wide",
            )
        ],
    ),
    Blueprint(
        "testimonials",
        "Testimonials",
        "Two quotes from happy customers",
        [
            section(
                "Testimonials",
                [
                    heading("What our customers say", 2, "center"),
                    columns(
                        2,
                        [
                            text(
                                "<blockquote><p>“A quote from a real customer about the "
                                "difference you made.”</p></blockquote>"
                                "<p><strong>Customer name</strong>, their role</p>"
                            ),
                            text(
                                "<blockquote><p>“Another customer, another result, in "
                                "their own words.”</p></blockquote>"
                                "<p><strong>Customer name</strong>, their role</p>"
                            ),
                        ],
                    ),
                ],
                background="muted",
            )
        ],
    ),
    Blueprint(
        "pricing",
        "Pricing",
        "Three plans with a price and a button each",
        [
            section(
                "Pricing",
                [
                    heading("Simple pricing", 2, "center"),
                    columns(
                        3,
                        [
                            section(
                                "",
                                [
                                    heading("Starter", 3),
                                    text(
                                        "<p><strong>€9</strong> a month</p>"
                                        "<ul><li>What is included</li>"
                                        "<li>Another thing included</li></ul>"
                                    ),
                                    button("Choose Starter", "#contact", "secondary"),
                                ],
                                padding="small",
                            ),
                            section(
                                "",
                                [
                                    heading("Professional", 3),
                                    text(
                                        "<p><strong>€29</strong> a month</p>"
                                        "<ul><li>Everything in Starter</li>"
                                        "<li>The reason to upgrade</li></ul>"
                                    ),
                                    button("Choose Professional", "#contact"),
                                ],
                                padding="small",
                            ),
                            section(
                                "",
                                [
                                    heading("Business", 3),
                                    text(
                                        "<p><strong>€79</strong> a month</p>"
                                        "<ul><li>Everything in Professional</li>"
                                        "<li>What large teams need</li></ul>"
                                    ),
                                    button("Talk to us", "#contact", "secondary"),
                                ],
                                padding="small",
                            ),
                        ],
                        gap="medium",
                    ),
                ],
                width="wide",
            )
        ],
    ),
    Blueprint(
        "faq",
        "FAQ",
        "Questions visitors ask, answered",
        [
            section(
                "Frequently asked questions",
                [
                    heading("Frequently asked questions", 2),
                    heading("What is the first question people ask?", 3),
                    text("<p>Answer it plainly, in two or three sentences.</p>"),
                    heading("How long does it take?", 3),
                    text("<p>Set expectations: what happens, and when.</p>"),
                    heading("Can I change my mind?", 3),
                    text("<p>Explain your cancellation or refund policy.</p>"),
                ],
                width="narrow",
            )
        ],
    ),
    Blueprint(
        "contact",
        "Contact",
        "How to reach you, with a button to write",
        [
            section(
                "Contact",
                [
                    heading("Get in touch", 2),
                    text(
                        "<p>Tell visitors how and when you answer. We reply within one "
                        "working day.</p>"
                    ),
                    button("Email us", "mailto:hello@example.com"),
                ],
                background="accent",
                padding="large",
                width="narrow",
            )
        ],
    ),
    Blueprint(
        "footer",
        "Footer",
        "Closing links and small print",
        [
            section(
                "Site information",
                [
                    columns(
                        3,
                        [
                            text("<p><strong>Your business</strong><br>Street 1, City</p>"),
                            text('<p><a href="#">About</a><br><a href="#">Contact</a></p>'),
                            text("<p>Opening hours: Monday to Friday, 9 to 5</p>"),
                        ],
                    ),
                ],
                background="muted",
                padding="small",
                width="wide",
            )
        ],
    ),
)

_SECTIONS = {blueprint.name: blueprint for blueprint in SECTION_TEMPLATES}


def _sections(*names: str) -> Tree:
    return [node for name in names for node in _SECTIONS[name].tree]


PAGE_TEMPLATES: tuple[Blueprint, ...] = (
    Blueprint("blank", "Blank", "An empty page", []),
    Blueprint(
        "landing",
        "Landing page",
        "Hero, features, testimonials, pricing and a call to get in touch",
        _sections("hero", "features", "testimonials", "pricing", "contact", "footer"),
    ),
    Blueprint(
        "about",
        "About",
        "Your story, what you believe and how to reach you",
        [
            section(
                "About us",
                [
                    heading("About us", 1),
                    text(
                        "<p>Tell your story: how you started, who you serve, and what "
                        "makes your work different.</p>"
                    ),
                ],
                padding="large",
                width="narrow",
            ),
            *_sections("features", "contact", "footer"),
        ],
    ),
    Blueprint(
        "contact",
        "Contact",
        "How to reach you and answers to common questions",
        _sections("contact", "faq", "footer"),
    ),
)


#: The text each built-in component shows a visitor (a section's label is not copy).
_COPY_PROPS = {component.type: component.inline for component in BUILTIN_COMPONENTS}


def _strings(tree: Tree) -> set[str]:
    found: set[str] = set()
    for node in tree:
        for key in _COPY_PROPS.get(node["type"], ()):
            value = node["props"].get(key)
            if isinstance(value, str):
                found.add(value)
        found |= _strings(node.get("children", []))
    return found


def placeholder_texts() -> list[str]:
    """Every text a template or a built-in component's defaults put on a page: a
    component still holding one of them is not finished."""
    found: set[str] = set()
    for blueprint in (*SECTION_TEMPLATES, *PAGE_TEMPLATES):
        found |= _strings(blueprint.tree)
    for component in BUILTIN_COMPONENTS:
        defaults = component.props()
        for key in _COPY_PROPS[component.type]:
            value = getattr(defaults, key, "")
            if isinstance(value, str) and value:
                found.add(value)
    found.discard("")
    return sorted(found)


def _views(blueprints: tuple[Blueprint, ...]) -> list[BlueprintView]:
    return [BlueprintView(b.name, b.label, b.description, b.tree) for b in blueprints]


def blueprints_view() -> BlueprintsView:
    """What ``GET …/templates`` answers."""
    return BlueprintsView(
        sections=_views(SECTION_TEMPLATES),
        pages=_views(PAGE_TEMPLATES),
        placeholders=placeholder_texts(),
    )
